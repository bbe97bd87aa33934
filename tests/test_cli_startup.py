"""The command starts fast: importing the package and ``--help`` load no TensorFlow."""

import resource
import subprocess
import sys

import keras_insight


def test_every_public_name_resolves_lazily():
    # each name listed in __all__ is reachable through the lazy table, and is what it names
    missing = [n for n in keras_insight.__all__ if not hasattr(keras_insight, n)]
    assert missing == []
    from keras_insight.attribution import grad_cam

    assert keras_insight.grad_cam is grad_cam


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_and_help_do_not_import_tensorflow():
    code = (
        "import sys\n"
        "from keras_insight.cli import main\n"
        "for argv in (['--help'], ['analyze', '--help'], ['demo', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "print('TF' if 'tensorflow' in sys.modules else 'noTF')\n"
    )
    r = _run(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("noTF")
    assert "--x-key" in r.stdout and "--class-names" in r.stdout and "--unsafe" in r.stdout


def test_help_under_a_second():
    # CPU time of the child, not wall time: the test machine is shared and busy
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(3):
        cmd = [sys.executable, "-m", "keras_insight.cli", "analyze", "--help"]
        subprocess.run(cmd, capture_output=True, check=True, timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / 3
    assert cpu < 1.0, cpu
