"""Every callback accepts the base's shared keyword arguments (issue 10, item 6)."""

import inspect

import numpy as np
import pytest

from keras_insight import callbacks as C
from keras_insight.callbacks.base import InsightCallback

X = np.random.default_rng(0).random((8, 16, 16, 3)).astype("float32")
Y = np.arange(8) % 4

#: each callback's own required arguments, by keyword
OWN = {
    "NearestNeighbors": {"gallery": (X, Y)},
    "MaxActivatingPatches": {"layer": "conv2"},
    "FeatureInversion": {"layers": ["conv1"]},
    "FilterSynthesis": {"layer": "conv2"},
}
SHARED = {
    "freq": 3,
    "at_train_end": False,
    "num_samples": 4,
    "seed": 5,
    "strict": True,
    "input_range": (0.0, 1.0),
    "class_names": ["a", "b", "c", "d"],
    "max_scan": 100,
}


def _callback_classes():
    return sorted(
        (name, cls)
        for name, cls in vars(C).items()
        if inspect.isclass(cls) and issubclass(cls, InsightCallback) and cls is not InsightCallback
    )


@pytest.mark.parametrize("name,cls", _callback_classes())
def test_shared_keywords_reach_the_base(name, cls, tmp_path):
    cb = cls(validation_data=(X, Y), log_dir=str(tmp_path), **OWN.get(name, {}), **SHARED)
    assert cb.log_dir == str(tmp_path)
    assert (cb.freq, cb.at_train_end, cb.num_samples, cb.seed, cb.strict) == (3, False, 4, 5, True)
    assert cb.class_names == ["a", "b", "c", "d"]
    assert cb.max_scan == 100
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    if "validation_data" in params[:1]:  # data first where the callback takes data first
        assert params[0] == "validation_data"
    else:  # the synthesis callbacks need no data: log_dir first, data by keyword
        assert params[0] == "log_dir" and name in ("ClassSynthesis", "FilterSynthesis")
