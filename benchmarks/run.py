"""Run every ``benchmarks/bench_*.py`` and print one table.

Usage: ``python benchmarks/run.py [--quick] [--only NAME]``. Each module exposes
``rows(quick=False) -> list[dict]`` (see ``_common.row``).
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import sys
import traceback

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="fewer repeats, smaller data")
    p.add_argument("--only", default=None, help="run only bench_<ONLY>.py")
    args = p.parse_args()
    files = sorted(HERE.glob("bench_*.py"))
    if args.only:
        files = [f for f in files if f.stem == f"bench_{args.only}"]
    print(f"{'benchmark':58s} {'value':>10s} {'unit':22s} {'target':10s} note")
    for f in files:
        spec = importlib.util.spec_from_file_location(f.stem, f)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
            rows = mod.rows(quick=args.quick)
        except Exception:
            print(f"{f.stem}: FAILED\n{traceback.format_exc()}")
            continue
        for r in rows:
            print(
                f"{r['name']:58s} {r['value']:10.3f} {r['unit']:22s} {r['target']:10s} {r.get('note', '')}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
