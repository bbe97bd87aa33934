"""The bad-input table: every public function x model kind x input case.

Each cell ends in a result or in a ``ValueError`` whose message is one line that names the
problem (and the fix); no cell may end in a TensorFlow traceback ("in user code:").
Bad inputs are rejected before anything is traced, so those cells are cheap; cells that
compute a result use tiny models and few steps.

Run ``python3 tests/test_bad_input.py`` to print the tally (cells, results, ValueErrors,
failures) without pytest; under pytest ``test_tally`` prints it at the end of the module.
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_insight as ki  # noqa: E402
from keras_insight.synthesis import class_logit  # noqa: E402
from keras_insight.testing.models import (  # noqa: E402
    MODEL_KINDS,
    make_model,
    mlp,
    multi_input_cnn,
    multi_output_cnn,
)

SHAPE = (16, 16, 3)
N = 4
_RNG = np.random.default_rng(0)
X_OK = _RNG.random((N, *SHAPE)).astype("float32")
Y = np.array([0, 1, 2, 3])
MASKS = np.zeros((N, 16, 16), bool)
MASKS[:, 4:12, 4:12] = True

INPUTS = {
    "ok": X_OK,
    "size": _RNG.random((N, 8, 8, 3)).astype("float32"),  # wrong image size
    "gray": _RNG.random((N, 16, 16, 1)).astype("float32"),  # grayscale on an RGB model
    "rank3": X_OK[0],  # one image without a batch axis
    "rank5": X_OK[None],  # an extra axis
}
#: words the first line of the error must contain, per bad input case
ERROR_WORDS = {
    "size": ("expected (16, 16, 3)", "got (8, 8, 3)"),
    "gray": ("expected (16, 16, 3)", "got (16, 16, 1)", "channel"),
    "rank3": ("(16, 16, 3)", "batch"),
    "rank5": ("(16, 16, 3)", "(1, 4, 16, 16, 3)"),
}

KINDS = (
    *MODEL_KINDS,  # the kinds make_model builds, then saved/loaded and unusual ones
    "loaded_keras",
    "loaded_h5",
    "multi_input",
    "multi_output",
    "multi_output_head",
    "mlp",
    "sequential_unbuilt",
)
#: kinds whose input size nobody declared (errors come from running one sample)
UNDECLARED = ("subclassed", "sequential_no_input", "sequential_unbuilt")
_MODELS: dict[str, keras.Model] = {}
_TMP = tempfile.mkdtemp(prefix="ki_bad_input_")


def model_of(kind: str) -> keras.Model:
    if kind == "sequential_unbuilt":  # fresh each time: the first call builds it
        L = keras.layers
        return keras.Sequential(
            [
                L.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
                L.GlobalAveragePooling2D(name="gap"),
                L.Dense(4, activation="softmax", name="logits"),
            ]
        )
    if kind == "multi_output_head":
        kind = "multi_output"
    if kind not in _MODELS:
        if kind in ("loaded_keras", "loaded_h5"):
            path = os.path.join(_TMP, "m." + kind.split("_")[1])
            make_model("sequential").save(path)
            _MODELS[kind] = keras.models.load_model(path, compile=False)
        elif kind == "multi_input":
            _MODELS[kind] = multi_input_cnn(SHAPE)
        elif kind == "multi_output":
            _MODELS[kind] = multi_output_cnn(SHAPE)
        elif kind == "mlp":
            _MODELS[kind] = mlp(SHAPE)
        else:
            _MODELS[kind] = make_model(kind, SHAPE)
    return _MODELS[kind]


def _layer(kind: str) -> str:
    return "hidden" if kind == "mlp" else "conv1"


# name -> (call(model, x, kind, output kwargs), needs the layer graph, needs a 4-D layer,
# expensive). Functions with an ``output=`` parameter get it on the "multi_output_head" kind.
FUNCS = {
    "saliency": (lambda m, x, k, o: ki.saliency(m, x, **o), False, False, False),
    "smoothgrad": (
        lambda m, x, k, o: ki.saliency(m, x, method="smoothgrad", n=2, **o),
        False,
        False,
        True,
    ),
    "integrated_gradients": (
        lambda m, x, k, o: ki.integrated_gradients(m, x, steps=4, **o),
        False,
        False,
        True,
    ),
    "gradients": (lambda m, x, k, o: ki.gradients(m, x, **o).input_grads, False, False, False),
    "logits": (lambda m, x, k, o: ki.logits(m, x, **o), False, False, False),
    "occlusion": (
        lambda m, x, k, o: ki.occlusion(m, x, patch=8, stride=8, **o),
        False,
        False,
        True,
    ),
    "grad_cam": (lambda m, x, k, o: ki.grad_cam(m, x, **o), True, True, False),
    "grad_cam_plus_plus": (lambda m, x, k, o: ki.grad_cam_plus_plus(m, x, **o), True, True, True),
    "cam": (lambda m, x, k, o: ki.cam(m, x, **o), True, True, True),
    "score_cam": (lambda m, x, k, o: ki.score_cam(m, x, **o), True, True, True),
    "guided_grad_cam": (lambda m, x, k, o: ki.guided_grad_cam(m, x, **o), True, True, True),
    "features": (lambda m, x, k, o: ki.features(m, x, **o), True, False, False),
    "activation_maps": (
        lambda m, x, k, o: ki.activation_maps(m, x, [_layer(k)]),
        True,
        False,
        True,
    ),
    "confusion_matrix": (
        lambda m, x, k, o: ki.confusion_matrix(m, x, Y, **o),
        False,
        False,
        True,
    ),
    "max_activating_patches": (
        lambda m, x, k, o: ki.max_activating_patches(m, x, "conv1", channels=[0], k=2),
        True,
        True,
        True,
    ),
    "deep_dream": (
        lambda m, x, k, o: ki.deep_dream(
            m, x[:1] if x.ndim == 4 else x, _layer(k), steps=2, octaves=1
        ),
        True,
        False,
        True,
    ),
    "invert": (lambda m, x, k, o: ki.invert(m, x, _layer(k), steps=2)[0], True, False, True),
    "synthesize_texture": (
        lambda m, x, k, o: ki.synthesize_texture(
            m, x[:1] if x.ndim == 4 else x, [_layer(k)], steps=2
        ),
        True,
        False,
        True,
    ),
    "maximize": (
        lambda m, x, k, o: ki.maximize(
            m, class_logit(1), steps=2, input_range=(0, 1), image_shape=SHAPE, **o
        ),
        False,
        False,
        True,
    ),
    "fgsm": (lambda m, x, k, o: ki.fgsm(m, x, Y, eps=0.03, **o), False, False, False),
    "pgd": (lambda m, x, k, o: ki.pgd(m, x, Y, eps=0.03, steps=2, **o), False, False, True),
    "robustness_curve": (
        lambda m, x, k, o: ki.robustness_curve(
            m, x, Y, epsilons=[0, 0.03], steps=2, attacks=("fgsm",), **o
        ),
        False,
        False,
        True,
    ),
    "invariance_report": (
        lambda m, x, k, o: ki.invariance_report(
            m, x, Y, transforms=("brightness",), severities=(1,), **o
        ),
        False,
        False,
        True,
    ),
    "shape_bias": (lambda m, x, k, o: ki.shape_bias(m, x, Y, MASKS, **o), False, False, True),
}
#: functions whose result does not depend on x (only the "ok" column is run)
NO_X = ("maximize",)
#: layer-only functions: a multi-output model needs no output= (no head is read)
LAYER_ONLY = (
    "activation_maps",
    "max_activating_patches",
    "deep_dream",
    "invert",
    "synthesize_texture",
)
#: kinds on which even expensive functions compute a result (the rest: cheap functions only)
RESULT_KINDS_EXPENSIVE = ("sequential", "functional", "nested_functional")


def expected(fn: str, kind: str, case: str) -> str:
    """``"result"`` or ``"ValueError"``: what the cell must end in."""
    _, graph, spatial, _ = FUNCS[fn]
    if kind == "multi_input" or (kind == "multi_output" and fn not in LAYER_ONLY):
        return "ValueError"  # one image input; several heads need output=
    if kind == "sequential_unbuilt" and case == "gray":
        return "result"  # its first call builds it for one channel
    if case == "size" and fn not in ("shape_bias", "max_activating_patches"):
        # conv + global pooling without a declared size: 8x8 images compute (shape_bias
        # keeps 16x16 masks; patches need the size the receptive field was built for)
        if kind in ("sequential_no_input", "sequential_unbuilt") or (
            kind == "subclassed" and not graph
        ):
            return "result"
    if case != "ok":
        return "ValueError"
    if kind == "subclassed" and graph:
        return "ValueError"
    if kind == "mlp" and spatial:
        return "ValueError"
    return "result"


def cells():
    out = []
    for fn, (_, _, _, expensive) in FUNCS.items():
        for kind in KINDS:
            for case in INPUTS:
                if fn in NO_X and case != "ok":
                    continue
                if case == "ok" and expensive and kind not in RESULT_KINDS_EXPENSIVE:
                    if expected(fn, kind, case) == "result" and kind != "multi_output_head":
                        continue  # keep CI fast: results of expensive functions on 3 kinds
                if case != "ok" and kind.startswith("multi_"):
                    continue  # "ok" covers these kinds: their checks come first
                if case == "size" and kind == "sequential_unbuilt" and expensive:
                    continue
                out.append((fn, kind, case))
    return out


TALLY: collections.Counter = collections.Counter()


def run_cell(fn: str, kind: str, case: str) -> tuple[str, str]:
    """Run one cell: ``("result", "")``, ``("ValueError", message)`` or ``("other", repr)``."""
    call = FUNCS[fn][0]
    x = INPUTS[case]
    out = {"output": "class_head"} if kind == "multi_output_head" else {}
    try:
        res = call(model_of(kind), x, kind, out)
    except ValueError as e:
        return "ValueError", str(e)
    except Exception as e:  # noqa: BLE001 - the table records what escaped
        return "other", f"{type(e).__name__}: {e}"
    return "result", "" if _finite(res) else "non-finite"


def _finite(res) -> bool:
    """No float array in a result (arrays, tuples, report objects) holds NaN."""
    if isinstance(res, np.ndarray):
        return res.dtype.kind != "f" or not bool(np.isnan(res).any())  # inf: "never broken"
    if isinstance(res, (list, tuple)):
        return all(_finite(r) for r in res)
    if isinstance(res, dict):
        return all(_finite(r) for r in res.values())
    if hasattr(res, "__dict__"):
        return all(_finite(v) for v in vars(res).values() if isinstance(v, np.ndarray))
    return True


@pytest.mark.parametrize(("fn", "kind", "case"), cells())
def test_cell(fn, kind, case):
    outcome, msg = run_cell(fn, kind, case)
    TALLY[outcome] += 1
    want = expected(fn, kind, case)
    assert outcome == want, f"{fn} on {kind} with {case}: {outcome} {msg[:600]}"
    if outcome == "ValueError":
        assert "\n" not in msg.strip(), f"not one line: {msg[:600]}"
        assert "in user code" not in msg and "keras_tensor" not in msg, msg[:600]
        if kind not in UNDECLARED:  # the model declares its input: exact expected/got
            for word in ERROR_WORDS.get(case, ()):
                assert word in msg, f"{word!r} missing from: {msg}"
    else:
        assert msg == "", msg


def test_multi_output_needs_output_only_where_a_head_is_read():
    m = model_of("multi_output")
    feats = ki.features(m, X_OK, layer="gap")  # a layer: no head is read
    np.testing.assert_allclose(
        feats, ki.activation_maps(m, X_OK, ["conv1"])[0].mean((1, 2)), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match=r"outputs \['class_head', 'box_head'\].*output='class_head'"):
        ki.maximize(m, class_logit(1), steps=2, input_range=(0, 1))
    img = ki.maximize(m, class_logit(1), steps=2, input_range=(0, 1), output="box_head")
    assert img.shape == (1, *SHAPE)
    img = ki.maximize(m, ki.synthesis.channel("conv1", 0), steps=2, input_range=(0, 1))
    assert img.shape == (1, *SHAPE)
    with pytest.raises(ValueError, match=r"output=5 is out of range.*\['class_head', 'box_head'\]"):
        ki.saliency(m, X_OK, output=5)
    with pytest.raises(ValueError, match=r"No output named 'head'.*\['class_head', 'box_head'\]"):
        ki.grad_cam(m, X_OK, output="head")


@pytest.mark.parametrize("fn", ["saliency", "grad_cam", "features", "pgd", "invert"])
def test_multi_input_list_or_array_is_one_line(fn):
    m = model_of("multi_input")
    meta = np.zeros((N, 4), "float32")
    for x, got in ((X_OK, "one array"), ([X_OK, meta], "a list of 2 arrays")):
        with pytest.raises(ValueError) as e:
            FUNCS[fn][0](m, x, "multi_input", {})
        msg = str(e.value)
        assert "\n" not in msg and got in msg
        assert "takes 2 inputs (image (16, 16, 3), meta (4,))" in msg


def test_tally(capsys):
    """Print how the table's cells ended (the closing note quotes it)."""
    if not TALLY:
        pytest.skip("run with the table")
    with capsys.disabled():
        print(f"\nbad-input table: {sum(TALLY.values())} cells: {dict(TALLY)}")


if __name__ == "__main__":  # python3 tests/test_bad_input.py: the table and its tally
    import time

    rows = collections.Counter()
    bad = []
    t0 = time.time()
    for fn, kind, case in cells():
        outcome, msg = run_cell(fn, kind, case)
        want = expected(fn, kind, case)
        one_line = outcome != "ValueError" or (
            "\n" not in msg.strip() and "in user code" not in msg and "keras_tensor" not in msg
        )
        words = ERROR_WORDS.get(case, ()) if kind not in UNDECLARED else ()
        one_line = one_line and (outcome != "ValueError" or all(w in msg for w in words))
        ok = outcome == want and one_line and (outcome != "result" or msg == "")
        rows[(outcome, ok)] += 1
        if not ok or "-v" in sys.argv:
            bad.append(f"{'OK ' if ok else 'BAD'} {fn:24s} {kind:20s} {case:6s} {outcome}: {msg[:300]}")
    print("\n".join(bad))
    total = sum(rows.values())
    print(f"{total} cells in {time.time() - t0:.0f} s: " + ", ".join(
        f"{o}{'' if ok else ' (unexpected)'}={c}" for (o, ok), c in sorted(rows.items())
    ))
