"""The Insight dashboard: what the callbacks write for it, and the HTML report.

The viewer itself (TensorBoard plugin ``insight``, viewer JSON, frontend) lives in the
``tensorboard_plugin_insight`` package, which imports no Keras (TensorBoard imports it at
start-up). ``keras-insight report D -o report.html`` writes the same viewer as one file.
"""

from keras_insight.dashboard.report import write_report
from keras_insight.dashboard.summary import (
    probe_record,
    write_confusion,
    write_probe,
    write_sample_images,
)

__all__ = ["probe_record", "write_confusion", "write_probe", "write_report", "write_sample_images"]
