"""TensorBoard output: one shared writer per run under ``<log_dir>/insight/``, a reader
for event files, and a real-server harness to check what TensorBoard serves.

``TensorBoardServer`` lives in ``keras_insight.tensorboard.server`` (it starts a
subprocess and is meant for tests and checks, not for training code).
"""

from keras_insight.tensorboard.events import decode_png, read_events
from keras_insight.tensorboard.writer import (
    INSIGHT_SUBDIR,
    RUN_DIR_PATTERN,
    InsightWriter,
    close_all,
    get_writer,
    holds_insight_data,
    new_run_name,
    run_dir_name,
    sanitize_tag,
)

__all__ = [
    "INSIGHT_SUBDIR",
    "RUN_DIR_PATTERN",
    "InsightWriter",
    "close_all",
    "decode_png",
    "get_writer",
    "holds_insight_data",
    "new_run_name",
    "read_events",
    "run_dir_name",
    "sanitize_tag",
]
