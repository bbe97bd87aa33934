"""The keras-insight command: demo trains and logs; analyze reads a saved model."""

import numpy as np

from keras_insight.cli import main
from keras_insight.tensorboard.events import read_events


def test_demo_then_analyze(tmp_path, capsys):
    log_dir, saved = tmp_path / "demo", tmp_path / "m.keras"
    argv = ["demo", "--data", "digits", "--epochs", "2", "--level", "light"]
    assert main([*argv, "--log-dir", str(log_dir), "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert f"tensorboard --logdir {log_dir}" in out
    assert "--samples_per_plugin=images=100" in out  # every epoch's image kept
    # keras.callbacks.TensorBoard shares the run: loss and accuracy next to the insight tags
    train = read_events(str(log_dir / "train"))
    assert [s for s, _ in train["epoch_loss"]] == [0, 1]
    assert "epoch_accuracy" in train
    ev = read_events(str(log_dir / "insight"))
    assert [s for s, _ in ev["filters/conv1"]] == [0, 1]
    assert "conv1" in ev["model/summary"][0][1]
    assert ev["activations/conv1/sample_0"][-1][1][0].dtype == np.uint8

    out_dir = tmp_path / "analyze"
    assert (
        main(
            [
                "analyze",
                str(saved),
                "--data",
                "digits",
                "--level",
                "light",
                "--log-dir",
                str(out_dir),
            ]
        )
        == 0
    )
    ev2 = read_events(str(out_dir / "insight"))
    # the loaded model has the trained weights: same filters as the demo's last epoch
    np.testing.assert_array_equal(ev2["filters/conv1"][0][1][0], ev["filters/conv1"][-1][1][0])
