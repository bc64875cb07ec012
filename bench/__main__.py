"""Run every benchmark module (`bench/bench_*.py`) in its own process and report failures.

`make bench BENCH=bench_inference` runs one. Each module prints its own table and writes its
figures to `bench_results/<name>.json`. A separate process per benchmark keeps one benchmark's
imports and memory out of another's measurements.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    failed = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        rc = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=HERE.parent)
        if rc != 0:
            failed.append(f"{name} (exit {rc})")
    if failed:
        print("\nbenchmarks that failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
