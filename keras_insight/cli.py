"""The ``keras-insight`` command: a demo run, and analysis of saved models on your own data.

Sub-commands are registered in :data:`COMMANDS`: each entry is a function that adds its
parser to the sub-parsers and sets ``func`` (called with the parsed arguments, returns the
exit code). Bad input is one line on stderr and exit code 2 (``--debug`` shows the
traceback). TensorFlow is imported only when a command runs, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BUILTIN_DATA = ("fashion_mnist", "digits", "shapes")
LEVELS = ("light", "standard", "full")

#: ``--methods`` names -> the callback classes of :func:`keras_insight.callbacks.suite`.
METHODS = {
    "summary": "ModelSummary",
    "filters": "FilterGrid",
    "activations": "ActivationMaps",
    "gradcam": "GradCAM",
    "saliency": "Saliency",
    "confusion": "ConfusionMatrix",
    "projector": "EmbeddingProjector",
    "embedding": "EmbeddingPlot",
    "neighbors": "NearestNeighbors",
    "synthesis": "ClassSynthesis",
    "robustness": "AdversarialRobustness",
    "occlusion": "Occlusion",
    "invariance": "Invariance",
}
#: analyses that compare predictions with true labels
NEEDS_LABELS = ("confusion", "robustness")

# C++ lines TensorFlow prints while it loads, before TF_CPP_MIN_LOG_LEVEL can act
_TF_NOISE = (
    "WARNING: All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "cpu_feature_guard",
    "To enable the following instructions",
    "Unable to register cu",
    "computation placer already registered",
)


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def import_keras():
    """Import TensorFlow and Keras with TensorFlow's start-up INFO lines filtered out.

    Its C++ start-up lines are printed before ``TF_CPP_MIN_LOG_LEVEL`` is read, so file
    descriptor 2 is captured while TensorFlow loads and every other line is replayed.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        import keras

        return keras
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines():
                if line.strip() and not any(n in line for n in _TF_NOISE):
                    print(line, file=sys.stderr)
    return keras


# ----------------------------------------------------------------------------- data
def builtin_data(name: str, limit_train: int | None = None):
    """``((x_train, y_train), validation, class_names)`` of a built-in data set."""
    from keras_insight import datasets

    if name == "fashion_mnist":
        (xt, yt), (xv, yv) = datasets.fashion_mnist()
    elif name == "digits":
        (xt, yt), (xv, yv) = datasets.digits()
    elif name == "shapes":
        x, y, _ = datasets.shapes(3000, size=32, seed=0)
        xv_, yv_, mv = datasets.shapes(400, size=32, seed=1)
        return (x, y), (xv_, yv_, mv), datasets.class_names("shapes")[:3]
    else:
        raise UsageError(f"unknown data set {name!r}: choose one of {', '.join(BUILTIN_DATA)}.")
    if limit_train:
        xt, yt = xt[:limit_train], yt[:limit_train]
    return (xt, yt), (xv, yv), datasets.class_names(name)


def demo_model(input_shape, num_classes: int):
    """The demo CNN: two conv blocks, a small dense layer, softmax output (~88% in 3 epochs)."""
    import keras

    L = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            L.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            L.MaxPooling2D(2, name="pool1"),
            L.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            L.MaxPooling2D(2, name="pool2"),
            L.Flatten(name="flatten"),
            L.Dense(64, activation="relu", name="fc"),
            L.Dense(num_classes, activation="softmax", name="predictions"),
        ],
        name="demo_cnn",
    )


def tensorboard_command(log_dir: str) -> str:
    """The command that opens a run and keeps every logged image (not a sample of 10)."""
    return f"tensorboard --logdir {log_dir} --samples_per_plugin=images=100,insight=100"


# ----------------------------------------------------------------------------- demo
def demo(args: argparse.Namespace) -> int:
    keras = import_keras()
    import numpy as np

    from keras_insight.callbacks import suite

    keras.utils.set_random_seed(args.seed)
    (xt, yt), val, names = builtin_data(args.data, args.limit)
    model = demo_model(xt.shape[1:], len(names))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    # overhead=None: the demo shows every view in its few epochs (suite()'s default budget
    # would postpone most of them); it prints what that cost at the end
    insight = suite(
        val, args.log_dir, level=args.level, seed=args.seed, class_names=names, overhead=None
    )
    print(
        f"keras-insight demo: {len(xt)} {args.data} training images, {args.epochs} epochs, "
        f"{len(insight)} insight callbacks -> {args.log_dir}",
        flush=True,
    )
    start = time.perf_counter()
    model.fit(
        np.asarray(xt, "float32"),
        yt,
        validation_data=(np.asarray(val[0], "float32"), val[1]),
        epochs=args.epochs,
        batch_size=128,
        verbose=2,
        # loss and accuracy curves in the same run as the insight scalars
        callbacks=[keras.callbacks.TensorBoard(args.log_dir), *insight],
    )
    spent = sum(c.seconds for c in insight)
    total = time.perf_counter() - start
    print(
        f"trained in {total:.1f} s; insight callbacks took {spent:.1f} s ({100 * spent / total:.1f}%)"
    )
    if args.save:
        model.save(args.save)
        print(f"saved the trained model to {args.save}")
    if args.timings:
        for c in insight:
            print(f"  {type(c).__name__:24s} {c.seconds:6.2f} s")
    failures = {type(c).__name__: dict(c.failures) for c in insight if c.failures}
    if failures:
        print(f"callback failures (training went on): {failures}")
    print(
        "\nOpen TensorBoard (its INSIGHT tab shows each probe image across epochs):\n"
        f"  {tensorboard_command(args.log_dir)}\n"
        "or write the same dashboard as one self-contained HTML file:\n"
        f"  keras-insight report {args.log_dir} -o report.html\n"
    )
    return 0


# ----------------------------------------------------------------------------- analyze
def load_model_file(path: str, *, unsafe: bool = False):
    """Load a ``.keras``/``.h5`` file or a SavedModel directory; one-line UsageError if not."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"model not found: {path}")
    keras = import_keras()
    if p.is_dir():
        if not (p / "saved_model.pb").is_file():
            raise UsageError(
                f"{path} is a folder but not a SavedModel (no saved_model.pb): give a .keras or "
                ".h5 file, or the folder model.export() wrote."
            )
        return _saved_model(keras, p)
    if p.suffix.lower() not in (".keras", ".h5", ".hdf5"):
        raise UsageError(
            f"{path} is not a Keras model file: give a .keras or .h5 file or a SavedModel folder."
        )
    try:
        return keras.models.load_model(p, compile=False, safe_mode=not unsafe)
    except ValueError as exc:
        text = str(exc)
        if "safe_mode" in text:
            raise UsageError(
                f"{path} holds a Lambda layer (Python code); Keras refuses to run code from a "
                "model file by default. If you trust the file, rerun with --unsafe."
            ) from exc
        if "File not found" in text or "zip" in text:
            raise UsageError(f"{path} is not a Keras model (not a readable .keras zip).") from exc
        raise UsageError(f"cannot load {path} as a Keras model: {_first_line(text)}") from exc
    except (OSError, TypeError, KeyError) as exc:
        raise UsageError(
            f"{path} is not a readable Keras model ({type(exc).__name__}: {_first_line(str(exc))})."
        ) from exc


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def _saved_model(keras, path: Path):
    """Wrap a SavedModel's serving function as an inference-only Functional model."""
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
        fn = loaded.signatures["serving_default"]
    except Exception as exc:
        raise UsageError(f"cannot load the SavedModel {path}: {_first_line(str(exc))}") from exc
    specs = fn.structured_input_signature[1]
    if len(specs) != 1:
        raise UsageError(
            f"the SavedModel {path} takes {len(specs)} inputs; one image input is needed."
        )
    spec = next(iter(specs.values()))
    if spec.shape.rank != 4 or None in spec.shape[1:]:
        raise UsageError(
            f"the SavedModel {path} takes {spec.shape}; an (N, H, W, C) image batch is needed."
        )
    inp = keras.Input(tuple(spec.shape[1:]))
    out = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")(inp)
    if isinstance(out, dict):
        if len(out) != 1:
            raise UsageError(f"the SavedModel {path} has {len(out)} outputs; one is needed.")
        out = next(iter(out.values()))
    return keras.Model(inp, out, name=path.name)


def model_io(model) -> tuple[tuple[int, ...], int | None]:
    """``(input shape without batch, number of outputs or None)`` of a single-input model."""
    import keras

    from keras_insight.core.introspection import input_shape

    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs and len(inputs) > 1:
        raise UsageError(
            f"model {model.name!r} has {len(inputs)} inputs; one image input is needed."
        )
    try:
        shape = input_shape(model)
    except ValueError as exc:
        raise UsageError(_first_line(str(exc))) from exc
    if len(shape) != 3:
        raise UsageError(
            f"model {model.name!r} takes inputs of shape {shape}; keras-insight needs images "
            "(H, W, C)."
        )
    try:
        spec = model.compute_output_spec(keras.KerasTensor((1, *shape)))
        spec = spec[0] if isinstance(spec, (list, tuple)) else spec
        outputs = int(spec.shape[-1]) if spec.shape[-1] is not None else None
    except Exception:  # an unusual model: skip the class-count check, analyses still run
        outputs = None
    return shape, outputs


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape)


def check_data_fits(x_shape: tuple, model_shape: tuple, source: str) -> None:
    """Raise a UsageError naming both shapes when images do not fit the model's input."""
    if tuple(x_shape) == tuple(model_shape):
        return
    hint = ""
    if x_shape[:2] == model_shape[:2] and x_shape[2] == 1 and model_shape[2] == 3:
        hint = " Repeat the gray channel: np.repeat(x, 3, axis=-1)."
    elif x_shape[:2] == model_shape[:2] and x_shape[2] == 3 and model_shape[2] == 1:
        hint = " Convert to grayscale: x.mean(-1, keepdims=True)."
    elif x_shape[:2] != model_shape[:2]:
        hint = " Resize the images to the model's size (an image folder is resized for you)."
    raise UsageError(
        f"{source} images are {_shape_text(x_shape)} (H x W x C) but the model takes "
        f"{_shape_text(model_shape)}.{hint}"
    )


def _read_user_data(args, model_shape=None):
    """Read ``--data`` from disk; an image folder needs the model's shape to resize to."""
    from keras_insight import datafiles

    try:
        return datafiles.read_data(
            args.data,
            x_key=args.x_key,
            y_key=args.y_key or "y",
            y_required=args.y_key is not None,
            image_size=None if model_shape is None else model_shape[:2],
            channels=None if model_shape is None else model_shape[2],
            pixel_range=args.input_range or (0.0, 255.0),
            max_images=args.max_images,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _parse_methods(text: str | None) -> list[str] | None:
    if not text:
        return None
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in METHODS]
    if unknown or not chosen:
        raise UsageError(
            f"unknown method {', '.join(unknown) or repr(text)}: choose from {', '.join(METHODS)}."
        )
    return chosen


def choose_callbacks(callbacks, methods: list[str] | None, has_labels: bool, notes: list[str]):
    """Keep the callbacks ``methods`` names (all when None); without labels, refuse the
    analyses that need them when asked for by name, else leave them out with a note."""
    if methods is not None:
        if not has_labels:
            missing = [m for m in methods if m in NEEDS_LABELS]
            if missing:
                raise UsageError(
                    f"{', '.join(missing)} {'needs' if len(missing) == 1 else 'need'} true "
                    "labels and the data has none: give an .npz with labels (--y-key) or an "
                    "image folder with one subfolder per class."
                )
        wanted = {METHODS[m] for m in methods}
        return [c for c in callbacks if type(c).__name__ in wanted]
    if has_labels:
        return list(callbacks)
    label_classes = {METHODS[m] for m in NEEDS_LABELS}
    dropped = [type(c).__name__ for c in callbacks if type(c).__name__ in label_classes]
    if dropped:
        notes.append(f"no labels: left out {', '.join(dropped)} (they compare with true labels).")
    return [c for c in callbacks if type(c).__name__ not in label_classes]


def _check_classes(y, names, outputs) -> None:
    if outputs is not None and names is not None and len(names) > outputs:
        raise UsageError(
            f"{len(names)} class names but the model has {outputs} outputs: pass the model's "
            "classes with --class-names."
        )
    if y is None:
        return
    top = int(y.max()) + 1
    if outputs is not None and top > outputs:
        raise UsageError(
            f"the labels have {top} classes (0..{top - 1}) but the model has only {outputs} "
            "outputs: is this the data the model was trained on?"
        )
    if names is not None and top > len(names):
        raise UsageError(
            f"the labels go up to class {top - 1} but only {len(names)} class names were given."
        )


def analyze(args: argparse.Namespace) -> int:
    """Run the chosen analyses once per model, at step 0, 1, ... in model order."""
    import numpy as np

    if args.input_range is not None:
        args.input_range = _parse_range(args.input_range)
    names_arg = None
    if args.class_names:
        from keras_insight.datafiles import read_class_names

        try:
            names_arg = read_class_names(args.class_names)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    methods = _parse_methods(args.methods)
    for path in args.model:
        if not Path(path).exists():
            raise UsageError(f"model not found: {path}")
    builtin = args.data in BUILTIN_DATA
    data_path = Path(args.data)
    if not builtin and not data_path.exists():
        raise UsageError(
            f"data not found: {args.data} (give an .npz, an .npy, an image folder or one of "
            f"{', '.join(BUILTIN_DATA)})."
        )
    # arrays are checked before TensorFlow starts; an image folder is resized to the model
    data = None if builtin or data_path.is_dir() else _read_user_data(args)
    models = [load_model_file(p, unsafe=args.unsafe) for p in args.model]
    shape, outputs = model_io(models[0])
    for path, m in zip(args.model[1:], models[1:]):
        other = model_io(m)
        if other != (shape, outputs):
            raise UsageError(
                f"{path} takes {_shape_text(other[0])} with {other[1]} outputs but "
                f"{args.model[0]} takes {_shape_text(shape)} with {outputs}: give checkpoints "
                "of one model."
            )
    notes: list[str] = []
    if builtin:
        _, (x, y, *rest), names = builtin_data(args.data)
        check_data_fits(x.shape[1:], shape, f"the built-in data set {args.data!r}")
        x = np.asarray(x, "float32")
        val = (x, y, *rest)
    else:
        data = data or _read_user_data(args, shape)
        x, y, names, notes = data.x, data.y, data.class_names, list(data.notes)
        check_data_fits(x.shape[1:], shape, str(args.data))
        val = (x,) if y is None else (x, y)
    if names_arg is not None:
        if names is not None and len(names) != len(names_arg):
            raise UsageError(
                f"--class-names gives {len(names_arg)} names but {args.data} has "
                f"{len(names)} classes."
            )
        names = names_arg
    _check_classes(y, names, outputs)

    from keras_insight.callbacks import suite

    every = suite(
        val,
        args.log_dir,
        level="full" if methods else args.level,
        seed=args.seed,
        class_names=names,
        input_range=args.input_range,
        strict=args.debug,
        overhead=None,  # no training to take a share of: every analysis runs once
    )
    callbacks = choose_callbacks(every, methods, y is not None, notes)
    for note in notes:
        print(f"note: {note}")
    print(
        f"keras-insight analyze: {len(models)} model(s), {len(x)} images from {args.data}, "
        f"{len(callbacks)} analyses -> {args.log_dir}",
        flush=True,
    )
    total_start = time.perf_counter()
    for step, (path, model) in enumerate(zip(args.model, models)):
        print(f"[step {step}] {path}")
        run_once(model, callbacks, step)
    print(
        f"done in {time.perf_counter() - total_start:.1f} s\n  {tensorboard_command(args.log_dir)}"
    )
    return 0


def run_once(model, callbacks, step: int, *, out=None) -> list[float]:
    """Log every callback once at ``step`` through Keras's own callback hooks, in fit's order:
    every ``on_train_begin`` first (so they share one run), then per callback
    ``on_epoch_end(step)``, which logs those whose frequency falls on this step, and
    ``on_train_end``, which logs the rest (``at_train_end``): each writes exactly once.

    Prints a progress bar line per analysis with its time; returns the seconds per callback.
    """
    out = sys.stdout if out is None else out
    seconds = []
    for cb in callbacks:
        start = time.perf_counter()
        cb.set_model(model)
        cb.on_train_begin()
        seconds.append(time.perf_counter() - start)
    width = len(str(len(callbacks)))
    for i, cb in enumerate(callbacks):
        start = time.perf_counter()
        failed_before = sum(cb.failures.values())
        cb.on_epoch_end(step)
        cb.on_train_end()
        seconds[i] += time.perf_counter() - start
        failed = sum(cb.failures.values()) > failed_before
        status = f"  failed: {', '.join(cb.failures)} (see above)" if failed else ""
        done = round(20 * (i + 1) / len(callbacks))
        print(
            f"  [{'#' * done}{'.' * (20 - done)}] {i + 1:>{width}}/{len(callbacks)} "
            f"{type(cb).__name__:22s} {seconds[i]:6.2f} s{status}",
            file=out,
            flush=True,
        )
    return seconds


def _parse_range(text: str) -> tuple[float, float]:
    from keras_insight.datafiles import parse_range

    try:
        return parse_range(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# ----------------------------------------------------------------------------- parsers
from keras_insight.dashboard.report import add_report_command  # noqa: E402


def add_demo(sub) -> None:
    d = sub.add_parser(
        "demo",
        help="train a small CNN with the insight callbacks",
        description="Train the demo CNN on a built-in data set with the insight callbacks "
        "and keras.callbacks.TensorBoard in the same run.",
    )
    d.add_argument("--epochs", type=int, default=3, help="training epochs (default 3)")
    d.add_argument("--log-dir", default="logs/demo", help="run directory (default logs/demo)")
    d.add_argument(
        "--data", default="fashion_mnist", choices=BUILTIN_DATA, help="built-in data set"
    )
    d.add_argument(
        "--level", default="standard", choices=LEVELS, help="which callbacks (suite level)"
    )
    d.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    d.add_argument("--seed", type=int, default=0, help="seed for weights, probes and methods")
    d.add_argument("--timings", action="store_true", help="print seconds spent per callback")
    d.add_argument("--save", default=None, help="save the trained model (.keras) to this path")
    d.set_defaults(func=demo)


def add_analyze(sub) -> None:
    a = sub.add_parser(
        "analyze",
        help="analyse saved models on your own data (written once, as step 0)",
        description="Run the insight analyses once on saved models, without training. "
        "Several models (checkpoints of one model) are written as steps 0, 1, ... in order.",
        epilog="example: keras-insight analyze model.keras --data val.npz --class-names "
        "cat,dog --log-dir logs/analyze",
    )
    a.add_argument("model", nargs="+", help=".keras or .h5 file, or a SavedModel folder")
    a.add_argument(
        "--data",
        required=True,
        help=".npz (images and labels), .npy (images), a folder with one subfolder of images "
        f"per class (sorted names are the classes), or a built-in set: {', '.join(BUILTIN_DATA)}",
    )
    a.add_argument("--x-key", default="x", help="array of images in the .npz (default x)")
    a.add_argument(
        "--y-key", default=None, help="array of labels in the .npz (default y, optional)"
    )
    a.add_argument(
        "--class-names", default=None, help="a file with one class name per line, or a,b,c"
    )
    a.add_argument(
        "--input-range",
        default=None,
        metavar="LO,HI",
        help="the model's input range, e.g. 0,1; image files are scaled to it "
        "(default: inferred from the data; image files stay 0-255)",
    )
    a.add_argument(
        "--level", default="standard", choices=LEVELS, help="which analyses (default standard)"
    )
    a.add_argument(
        "--methods",
        default=None,
        help=f"comma-separated analyses instead of --level: {', '.join(METHODS)}",
    )
    a.add_argument("--log-dir", default="logs/analyze", help="run directory (default logs/analyze)")
    a.add_argument(
        "--max-images", type=int, default=2048, help="images read from a folder (default 2048)"
    )
    a.add_argument("--seed", type=int, default=0, help="seed for probes and methods")
    a.add_argument(
        "--unsafe",
        action="store_true",
        help="allow models with Lambda layers (runs Python code from the file; trusted files only)",
    )
    a.set_defaults(func=analyze)


#: Sub-commands, in --help order. Add one by appending a function like add_analyze.
COMMANDS = [add_demo, add_analyze, add_report_command]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-insight",
        description="See what a Keras CNN learns: a demo run, and analysis of saved models.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv  # also accepted after the sub-command
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    args.debug = debug
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        return args.func(args)
    except UsageError as exc:
        if debug:
            raise
        print(f"keras-insight: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("keras-insight: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(
            f"keras-insight: {type(exc).__name__}: {_first_line(str(exc))} "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
