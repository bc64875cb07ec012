"""ETL throughput (rows/s) of both Glue job entries on a local SparkSession.

Generates BENCH_ETL_ROWS (default 200,000) messy synthetic events as JSON Lines, then runs,
interleaved BENCH_ETL_REPEATS times (default 3): raw_to_curated, curated_to_features fitting
the stats (--refit true), and curated_to_features applying the saved stats. Prints medians
and writes bench_results/bench_etl.json. local[2] on a shared machine: compare ratios.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

from bench.local_spark import load_module, local_spark

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "lambda" / "firehose_transform" / "event_schema.json"
ROWS = int(os.environ.get("BENCH_ETL_ROWS", "200000"))
REPEATS = int(os.environ.get("BENCH_ETL_REPEATS", "3"))



def _timed(fn, argv: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        summary = fn(argv)
    return time.perf_counter() - start, summary


def main() -> None:
    """Run the stages interleaved; print a table of median seconds and rows/s."""
    sys.path.insert(0, str(ROOT / "glue_jobs"))
    synthetic = load_module("bench_synthetic_events", ROOT / "tests" / "runtime" / "data" / "synthetic_events.py")
    work = Path(tempfile.mkdtemp(prefix="bench-etl-"))
    try:
        t0 = time.perf_counter()
        events = synthetic.make_events(ROWS, seed=1, messy=True)
        raw = synthetic.write_jsonl(events, work / "raw", files=8)
        generate_s = time.perf_counter() - t0
        local_spark("bench-etl", shuffle_partitions=8, driver_memory="3g")
        curate = load_module("bench_raw_to_curated", ROOT / "glue_jobs" / "raw_to_curated.py").main
        features = load_module("bench_curated_to_features", ROOT / "glue_jobs" / "curated_to_features.py").main
        cur, stats = work / "curated", work / "stats.json"
        common = ["--source_path", str(cur), "--target_path", str(work / "features"),
                  "--csv_output_path", str(work / "csv"), "--stats_path", str(stats)]
        stages = {
            "raw_to_curated": (curate, ["--source_path", str(raw), "--target_path", str(cur),
                                        "--schema_path", str(SCHEMA), "--write_mode", "overwrite"]),
            "features_fit": (features, [*common, "--refit", "true"]),
            "features_apply": (features, common),
        }
        times: dict[str, list[float]] = {s: [] for s in stages}
        summaries = {}
        for _ in range(REPEATS):
            for name, (fn, argv) in stages.items():
                if name == "raw_to_curated":
                    shutil.rmtree(cur, ignore_errors=True)
                elapsed, summaries[name] = _timed(fn, argv)
                times[name].append(elapsed)
        input_rows = len(events)
        print(f"{input_rows:,} raw rows ({ROWS:,} events + messy extras); generation {generate_s:.1f}s; "
              f"local[2]; {REPEATS} interleaved runs")
        print(f"{'stage':<18}{'median s':>10}{'min s':>8}{'rows in':>10}{'rows/s':>10}")
        rows = []
        curated_rows = summaries["raw_to_curated"]["curated_rows"]
        for name, ts in times.items():
            n = input_rows if name == "raw_to_curated" else curated_rows
            med = statistics.median(ts)
            rows.append({"stage": name, "median_s": med, "min_s": min(ts), "rows_in": n, "rows_per_s": n / med})
            print(f"{name:<18}{med:>10.1f}{min(ts):>8.1f}{n:>10,}{n / med:>10,.0f}")
        print(f"apply/fit time ratio: {rows[2]['median_s'] / rows[1]['median_s']:.2f}")
        out = ROOT / "bench_results" / "bench_etl.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"rows": input_rows, "repeats": REPEATS, "stages": rows,
                                   "summaries": summaries}, indent=2, default=str))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
