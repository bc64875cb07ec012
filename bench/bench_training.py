"""Training load+train: our QuantileDMatrix streaming path vs the SageMaker built-in container's path.

Data: 1,000,000 x 50 binary classification (+200,000 validation rows), as CSV (label first, no header)
and Parquet (float64 columns, as pandas/Spark write them), cached under /tmp. Same hyperparameters
for both (hist, depth 6, 100 rounds). Baseline = aws/sagemaker-xgboost-container data_utils.py:
CSV `xgb.DMatrix("<path>?format=csv&label_column=0")`; Parquet `pq.read_table` -> `to_pandas` ->
`to_numpy` -> `DMatrix(data[:, 1:], label=data[:, 0])`. Each measurement runs in a fresh process
(peak RSS = that process's ru_maxrss), three interleaved repetitions, medians and ratios reported.

    python -m bench.bench_training            # full run, writes bench_results/bench_training.json
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

START = time.perf_counter()
ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("BENCH_TRAINING_DATA", "/tmp/ml-platform-bench-training"))
OUT = ROOT / "bench_results" / "bench_training.json"
ROWS, VALID_ROWS, FEATURES, ROUNDS, REPEATS = 1_000_000, 200_000, 50, 100, 3
PARAMS = {"tree_method": "hist", "max_depth": 6, "eta": 0.3, "objective": "binary:logistic",
          "eval_metric": "auc", "max_bin": 256, "seed": 0}
GOAL_TIME_RATIO, GOAL_RSS_RATIO, AUC_TOLERANCE = 1.0, 0.70, 0.002
SAMPLE_RATIO = 0.125  # the `ours_sampled` variant: sketch_sample_ratio=0.125
METHODS = ("baseline", "ours", "ours_sampled")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def generate() -> dict[str, dict[str, Path]]:
    """Write (once) the train/validation files in both formats; returns their paths."""
    paths = {fmt: {split: DATA / f"{split}.{fmt}" for split in ("train", "validation")}
             for fmt in ("csv", "parquet")}
    if all(p.exists() for d in paths.values() for p in d.values()):
        return paths
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    weights = rng.standard_normal(FEATURES)
    for split, n in (("train", ROWS), ("validation", VALID_ROWS)):
        x = rng.standard_normal((n, FEATURES)).astype(np.float32)
        logit = x[:, :10] @ weights[:10] + 0.8 * np.sin(x[:, 10]) * x[:, 11] + 0.5 * x[:, 12] ** 2
        y = (logit + rng.logistic(size=n) > 0.5).astype(np.float64)
        table = pa.table({"label": y, **{f"f{i}": x[:, i].astype(np.float64) for i in range(FEATURES)}})
        pa_csv.write_csv(table, paths["csv"][split], pa_csv.WriteOptions(include_header=False))
        pq.write_table(table, paths["parquet"][split], row_group_size=100_000)
    return paths


def _marks(marks: list, name: str) -> None:
    marks.append({"phase": name, "t_s": time.perf_counter() - START, "peak_mb": _peak_mb()})


def run_baseline(fmt: str, train: Path, valid: Path) -> dict:
    """The built-in container's load path, then xgb.train."""
    marks: list = []
    import numpy as np  # noqa: F401
    import pandas as pd
    import pyarrow.parquet as pq
    import xgboost as xgb
    _marks(marks, "imports")

    def load(path: Path):
        if fmt == "csv":
            return xgb.DMatrix(f"{path}?format=csv&label_column=0")
        data = pq.read_table(path).to_pandas()
        if isinstance(data, pd.DataFrame):
            data = data.to_numpy()
        return xgb.DMatrix(data[:, 1:], label=data[:, 0])

    dtrain, dvalid = load(train), load(valid)
    _marks(marks, "read")
    # The plain DMatrix is quantized inside the first boosting round: attributed to "train".
    _marks(marks, "quantize")
    booster = xgb.train(PARAMS, dtrain, ROUNDS)
    _marks(marks, "train")
    return {"marks": marks, "auc": float(booster.eval(dvalid).split(":")[-1])}


def run_ours(fmt: str, train: Path, valid: Path, sample_ratio: float = 1.0) -> dict:
    """training_code's path: pyarrow float32 chunks -> DataIter -> QuantileDMatrix(ref=) -> xgb.train.

    `sample_ratio` < 1 is the `sketch_sample_ratio` hyperparameter: cuts from a row sample.
    """
    marks: list = []
    sys.path.insert(0, str(ROOT / "training_code"))
    import xgboost as xgb

    from data_iter import ChannelIter, available_memory_bytes, build_matrix, label_checker, sampled_cuts
    _marks(marks, "imports")

    class MarkedIter(ChannelIter):
        def next(self, input_data):  # marks "read" when the training file's first pass ends
            more = super().next(input_data)
            if not more and self.name == "train" and not any(m["phase"] == "read" for m in marks):
                _marks(marks, "read")
            return more

    check = label_checker(PARAMS["objective"], None)
    budget = available_memory_bytes() // 2
    train_it = MarkedIter("train", [train], fmt, check, budget)
    valid_it = MarkedIter("validation", [valid], fmt, check, budget)
    cuts = sampled_cuts(train_it, sample_ratio, PARAMS["max_bin"]) if sample_ratio < 1 else None
    dtrain = build_matrix(train_it, max_bin=PARAMS["max_bin"], ref=cuts)
    dvalid = build_matrix(valid_it, max_bin=PARAMS["max_bin"], ref=dtrain)
    _marks(marks, "quantize")
    booster = xgb.train(PARAMS, dtrain, ROUNDS)
    _marks(marks, "train")
    return {"marks": marks, "auc": float(booster.eval(dvalid).split(":")[-1])}


def measure(method: str, fmt: str, paths: dict) -> dict:
    """Run one method in a fresh process and return its marks, AUC, wall time and peak RSS."""
    cmd = [sys.executable, "-m", "bench.bench_training", "--worker", method, fmt,
           str(paths[fmt]["train"]), str(paths[fmt]["validation"])]
    began = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{method}/{fmt} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(wall_s=wall, peak_mb=result["marks"][-1]["peak_mb"])
    return result


def summarize(runs: dict) -> dict:
    """Medians per method/format, ratios of each of our variants to the baseline, goal verdicts."""
    summary = {}
    for fmt in ("csv", "parquet"):
        base = runs[fmt]["baseline"]
        entry: dict = {}
        for name in METHODS:
            rs = runs[fmt][name]
            entry[name] = {"wall_s_median": statistics.median(r["wall_s"] for r in rs),
                           "peak_mb_median": statistics.median(r["peak_mb"] for r in rs),
                           "auc": rs[0]["auc"],
                           "phases_peak_mb": {m["phase"]: round(m["peak_mb"], 1) for m in rs[0]["marks"]},
                           "phases_t_s": {m["phase"]: round(m["t_s"], 2) for m in rs[0]["marks"]}}
            if name == "baseline":
                continue
            e = entry[name]
            e["time_ratio_median"] = statistics.median(o["wall_s"] / b["wall_s"] for o, b in zip(rs, base, strict=False))
            e["rss_ratio_median"] = statistics.median(o["peak_mb"] / b["peak_mb"] for o, b in zip(rs, base, strict=False))
            e["auc_diff"] = abs(rs[0]["auc"] - base[0]["auc"])
            e["goals"] = {"time": e["time_ratio_median"] <= GOAL_TIME_RATIO,
                          "rss": e["rss_ratio_median"] <= GOAL_RSS_RATIO,
                          "auc": e["auc_diff"] <= AUC_TOLERANCE}
        summary[fmt] = entry
    return summary


def print_table(summary: dict) -> None:
    print(f"{'format':8}{'method':14}{'wall s':>8}{'peak MB':>9}{'imports':>9}{'read':>8}"
          f"{'quantize':>9}{'train':>8}{'AUC':>9}")
    for fmt, entry in summary.items():
        for name in METHODS:
            e, ph = entry[name], entry[name]["phases_peak_mb"]
            print(f"{fmt:8}{name:14}{e['wall_s_median']:8.2f}{e['peak_mb_median']:9.0f}{ph['imports']:9.0f}"
                  f"{ph['read']:8.0f}{ph['quantize']:9.0f}{ph['train']:8.0f}{e['auc']:9.5f}")
        for name in METHODS[1:]:
            e, g = entry[name], entry[name]["goals"]
            print(f"  {fmt} {name}: time ratio {e['time_ratio_median']:.3f} (goal <= {GOAL_TIME_RATIO}: "
                  f"{'met' if g['time'] else 'MISSED by %.1f%%' % (100 * (e['time_ratio_median'] - 1))}), "
                  f"RSS ratio {e['rss_ratio_median']:.3f} (goal <= {GOAL_RSS_RATIO}: "
                  f"{'met' if g['rss'] else 'MISSED by %.3f' % (e['rss_ratio_median'] - GOAL_RSS_RATIO)}), "
                  f"AUC diff {e['auc_diff']:.5f} ({'met' if g['auc'] else 'MISSED'})")
    print("(peak MB columns: process peak RSS after each phase. read = training file parsed and cached; "
          "quantize = train+validation QuantileDMatrix built; the baseline quantizes inside train)")


def main() -> None:
    paths = generate()
    runs = {fmt: {m: [] for m in METHODS} for fmt in ("csv", "parquet")}
    for rep in range(REPEATS):
        for fmt in ("csv", "parquet"):
            # Alternate which method goes first so drift on a shared machine hits both alike.
            order = METHODS if rep % 2 == 0 else METHODS[::-1]
            for method in order:
                result = measure(method, fmt, paths)
                runs[fmt][method].append(result)
                print(f"rep {rep} {fmt:7} {method:12} wall {result['wall_s']:6.2f}s "
                      f"peak {result['peak_mb']:6.0f} MB auc {result['auc']:.5f}", flush=True)
    summary = summarize(runs)
    print_table(summary)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"rows": ROWS, "features": FEATURES, "rounds": ROUNDS, "params": PARAMS,
                               "cpu_count": os.cpu_count(), "summary": summary, "runs": runs}, indent=1))
    print(f"figures written to {OUT.relative_to(ROOT)}")


def _worker(argv: list[str]) -> None:
    method, fmt, train, valid = argv
    if method == "baseline":
        result = run_baseline(fmt, Path(train), Path(valid))
    else:
        result = run_ours(fmt, Path(train), Path(valid), SAMPLE_RATIO if method == "ours_sampled" else 1.0)
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2:])
    else:
        main()
