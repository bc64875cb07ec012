"""Throughput of our model monitor on one million captured records (`make bench BENCH=bench_monitor`).

Generates BENCH_MONITOR_RECORDS (default 1,000,000) capture records of 30 features (the width of
the rehearsal model) in SageMaker's data-capture format, 10,000 per file as an endpoint's hourly
folders hold them: 90% CSV requests, 5% base64-encoded CSV, 5% JSON, JSON responses, 0.1%
malformed lines, one feature drifted. Then runs the whole monitor (read, parse, checks, drift,
report, metrics file) BENCH_MONITOR_REPEATS times (default 3) and reports the median captured
records/s, with the reading/parsing share timed separately. Writes bench_results/bench_monitor.json.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training_code"))
RECORDS = int(os.environ.get("BENCH_MONITOR_RECORDS", "1000000"))
REPEATS = int(os.environ.get("BENCH_MONITOR_REPEATS", "3"))
FEATURES, PER_FILE = 30, 10_000


def _rows(n: int, seed: int, drift: bool) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, FEATURES))
    if drift:
        x[:, 7] += 1.0
    return x


def _line(i: int, row: np.ndarray, prediction: float) -> str:
    body = ",".join(f"{v:.6g}" for v in row)
    kind, encoding = "text/csv", "CSV"
    if i % 20 == 1:
        body, encoding = base64.b64encode(body.encode()).decode(), "BASE64"
    elif i % 20 == 2:
        body, kind, encoding = json.dumps({"instances": [[round(float(v), 6) for v in row]]}), "application/json", "JSON"
    if i % 1000 == 999:
        return '{"captureData": {"endpointInput": truncated'
    return json.dumps({"captureData": {
        "endpointInput": {"observedContentType": kind, "mode": "INPUT", "data": body, "encoding": encoding},
        "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                           "data": json.dumps({"predictions": [round(prediction, 6)]}), "encoding": "JSON"}},
        "eventMetadata": {"eventId": f"{i:08d}-0000-4000-8000-000000000000", "inferenceTime": "2026-12-01T20:15:00Z"},
        "eventVersion": "0"})


def generate(folder: Path) -> int:
    """Write the capture files; returns their total size in bytes."""
    hour = folder / "capture" / "AllTraffic" / "2026" / "12" / "01" / "20"
    hour.mkdir(parents=True)
    size = 0
    for start in range(0, RECORDS, PER_FILE):
        x = _rows(min(PER_FILE, RECORDS - start), seed=start, drift=True)
        p = 1.0 / (1.0 + np.exp(-x[:, 0]))
        text = "\n".join(_line(start + i, x[i], float(p[i])) for i in range(len(x))) + "\n"
        (hour / f"{start:09d}.jsonl").write_text(text)
        size += len(text)
    return size


def baseline(folder: Path) -> Path:
    from monitoring.columns import Column
    from monitoring.statistics import build_constraints, build_statistics

    x = _rows(100_000, seed=10**9, drift=False)
    stats = build_statistics([Column(f"_c{i}", x[:, i].copy(), 0, 0) for i in range(FEATURES)])
    out = folder / "baseline"
    out.mkdir()
    (out / "statistics.json").write_text(json.dumps(stats))
    (out / "constraints.json").write_text(json.dumps(build_constraints(
        stats, missing_tolerance=0.05, datatype_check_threshold=0.1, comparison_threshold=0.1, categorical_threshold=0.1)))
    return out


def main() -> int:
    from monitoring.capture import capture_files, read_window
    from monitoring.run import MonitorSettings, run_monitor

    work = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    try:
        started = time.perf_counter()
        size = generate(work)
        print(f"generated {RECORDS:,} records ({size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s", flush=True)
        base = baseline(work)
        names = [f"_c{i}" for i in range(FEATURES)]
        totals, reads, summary = [], [], {}
        for repeat in range(REPEATS):
            t0 = time.perf_counter()
            window = read_window(capture_files(work / "capture"), names, collect_keys=False)
            window.columns()
            reads.append(time.perf_counter() - t0)
            del window
            t0 = time.perf_counter()
            summary = run_monitor(MonitorSettings(endpoint="bench", baseline_dir=base, capture_dir=work / "capture",
                                                  output_dir=work / f"report-{repeat}"))
            totals.append(time.perf_counter() - t0)
            print(f"repeat {repeat + 1}: read+parse {reads[-1]:.1f} s, whole run {totals[-1]:.1f} s", flush=True)
        whole, read = statistics.median(totals), statistics.median(reads)
        result = {"records": RECORDS, "features": FEATURES, "bytes": size, "repeats": REPEATS,
                  "whole_run_s": whole, "read_parse_s": read, "records_per_s": RECORDS / whole,
                  "read_parse_records_per_s": RECORDS / read, "mb_per_s": size / 1e6 / whole,
                  "malformed_records": summary["malformed_records"], "drifted_features": summary["drifted_features"]}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| records | features | whole run (median) | records/s | read+parse records/s | MB/s |")
    print("|---|---|---|---|---|---|")
    print(f"| {RECORDS:,} | {FEATURES} | {whole:.1f} s | {result['records_per_s']:,.0f} | "
          f"{result['read_parse_records_per_s']:,.0f} | {result['mb_per_s']:.1f} |")
    print(f"malformed counted: {result['malformed_records']:,}; drifted: {result['drifted_features']}")
    out = ROOT / "bench_results" / "bench_monitor.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
