"""Backfill throughput (rows/s) of curated_to_feature_store on a local SparkSession.

PutRecord goes through a real botocore client (validation, serialization, signing) answered by
the tests' fake Feature Store without a network (tests/runtime/features/fake_featurestore.py), at
0 ms and at BENCH_BACKFILL_LATENCY_MS (default 5) per call, with 1 and 8 writes in flight per
partition. BENCH_BACKFILL_ROWS (default 10,000) curated rows, BENCH_BACKFILL_REPEATS (default 3)
interleaved runs after an untimed warm-up, 2 partitions on local[2]; each run starts from an
empty ledger. Prints medians
and writes bench_results/bench_feature_backfill.json. The service's real latency and its
per-group throughput limits decide AWS figures: this measures what the job itself costs.
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
ROWS = int(os.environ.get("BENCH_BACKFILL_ROWS", "10000"))
REPEATS = int(os.environ.get("BENCH_BACKFILL_REPEATS", "3"))
LATENCY_MS = float(os.environ.get("BENCH_BACKFILL_LATENCY_MS", "5"))



def main() -> None:
    """Run each configuration REPEATS times, interleaved; print median seconds and rows/s."""
    from pyspark import cloudpickle

    for folder in ("glue_jobs", "tests/runtime/features"):
        sys.path.insert(0, str(ROOT / folder))
    testkit = load_module("bench_features_testkit", ROOT / "tests" / "runtime" / "features" / "features_testkit.py")
    fake = load_module("bench_fake_featurestore", ROOT / "tests" / "runtime" / "features" / "fake_featurestore.py")
    synthetic = load_module("bench_synthetic_events", ROOT / "tests" / "runtime" / "data" / "synthetic_events.py")
    job = load_module("bench_curated_to_feature_store", ROOT / "glue_jobs" / "curated_to_feature_store.py")
    spark = local_spark("bench-feature-backfill", shuffle_partitions=2, driver_memory="2g")
    for module in ("etl_feature_writer.py", "etl_feature_records.py"):
        spark.sparkContext.addPyFile(str(ROOT / "glue_jobs" / module))
    cloudpickle.register_pickle_by_value(fake)
    work = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    try:
        rows = testkit.curated_rows(synthetic.make_events(ROWS, seed=2))
        spark.createDataFrame(rows, testkit.CURATED_SCHEMA).write.parquet(str(work / "curated"))
        target = json.dumps(testkit.TARGETS[0])
        configs = {f"0ms, {n} in flight": (0.0, n) for n in (8,)}
        configs.update({f"{LATENCY_MS:g}ms, {n} in flight": (LATENCY_MS / 1000, n) for n in (1, 8)})
        times: dict[str, list[float]] = {name: [] for name in configs}
        summaries = {}
        # Repeat -1 warms up the JVM, the Python workers and the imports; it is not timed.
        for repeat in range(-1, REPEATS):
            for name, (latency, in_flight) in configs.items():
                if repeat < 0 and in_flight == 1:
                    continue
                ledger = work / f"ledger-{repeat}-{in_flight}-{latency}"
                factory = fake.client_factory(None, "event_id", latency_s=latency)
                argv = ["--source_path", str(work / "curated"), "--feature_target", target,
                        "--ledger_path", str(ledger), "--partitions", "2", "--max_in_flight", str(in_flight)]
                start = time.perf_counter()
                with redirect_stdout(io.StringIO()):
                    summaries[name] = job.main(argv, client_factory=factory)
                if repeat >= 0:
                    times[name].append(time.perf_counter() - start)
        print(f"{ROWS:,} curated rows -> PutRecord (fake service, real botocore); local[2], 2 partitions; "
              f"{REPEATS} interleaved runs")
        print(f"{'configuration':<24}{'median s':>10}{'min s':>8}{'rows/s':>10}")
        results = []
        for name, ts in times.items():
            med = statistics.median(ts)
            written = summaries[name]["written"]
            results.append({"configuration": name, "median_s": med, "min_s": min(ts), "rows": written,
                            "rows_per_s": written / med})
            print(f"{name:<24}{med:>10.1f}{min(ts):>8.1f}{written / med:>10,.0f}")
        out = ROOT / "bench_results" / "bench_feature_backfill.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"rows": ROWS, "repeats": REPEATS, "latency_ms": LATENCY_MS,
                                   "results": results}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
