"""The baseline step as the pipeline runs it: real XGBoost model, label-first channels, files in
Model Monitor's schema; the monitor job's command line on the result."""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import xgboost as xgb
from monitoring_testkit import REPO_CODE, sample, score, write_capture, write_label_first

from monitoring.statistics import KLL_K, kll_sketch, sketch_points


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """GIVEN train/test channels and a model.tar.gz trained on them with xgboost."""
    root = tmp_path_factory.mktemp("job")
    x, xt = sample(6000, seed=1), sample(1500, seed=2)
    rng = np.random.default_rng(0)
    y, yt = (rng.random(6000) < score(x)).astype(float), (rng.random(1500) < score(xt)).astype(float)
    write_label_first(root / "train" / "train.csv", x, y)
    write_label_first(root / "test" / "test.csv", xt, yt)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(x, label=y), 30)
    (root / "model").mkdir()
    booster.save_model(str(root / "model" / "xgboost-model.ubj"))
    (root / "model" / "xgboost-model.ubj").rename(root / "model" / "xgboost-model")
    with tarfile.open(root / "model.tar.gz", "w:gz") as tar:
        tar.add(root / "model" / "xgboost-model", arcname="xgboost-model")
    return root, x


def _run(*args, cwd):
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def baseline(trained):
    """WHEN the baseline step runs as the pipeline's processing step runs it."""
    root, x = trained
    done = _run(str(REPO_CODE / "baseline.py"), "--train-dir", str(root / "train"), "--test-dir", str(root / "test"),
                "--model-path", str(root / "model.tar.gz"), "--output-dir", str(root / "baseline"),
                "--comparison-threshold", "0.2", cwd=root)
    assert done.returncode == 0, done.stderr
    return root, x


def test_baseline_step_writes_model_monitor_files(baseline):
    root, x = baseline
    stats = json.loads((root / "baseline" / "statistics.json").read_text())
    constraints = json.loads((root / "baseline" / "constraints.json").read_text())
    assert stats["dataset"]["item_count"] == 6000 and [f["name"] for f in stats["features"]] == [f"_c{i}" for i in range(6)]
    first = stats["features"][0]
    assert first["inferred_type"] == "Fractional" and stats["features"][4]["inferred_type"] == "Integral"
    num = first["numerical_statistics"]
    assert set(num) == {"common", "mean", "sum", "std_dev", "min", "max", "distribution"}
    assert num["common"] == {"num_present": 6000, "num_missing": 0}
    assert num["mean"] == pytest.approx(x[:, 0].mean()) and num["max"] == pytest.approx(x[:, 0].max())
    assert len(num["distribution"]["kll"]["buckets"]) == 10
    assert sum(b["count"] for b in num["distribution"]["kll"]["buckets"]) == 6000
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_threshold"] == 0.2
    assert constraints["features"][1] == {"name": "_c1", "inferred_type": "Fractional", "completeness": 0.95,
                                          "num_constraints": {"is_non_negative": True}, "monitoringConfigOverrides": {}}
    prediction = json.loads((root / "baseline" / "prediction_statistics.json").read_text())
    assert prediction["features"][0]["name"] == "prediction"
    quality = json.loads((root / "baseline" / "model_quality_constraints.json").read_text())
    auc = json.loads((root / "baseline" / "model_quality_statistics.json").read_text())[
        "binary_classification_metrics"]["auc"]["value"]
    assert quality["binary_classification_constraints"]["auc"]["threshold"] == pytest.approx(auc * 0.9, abs=1e-6)


def test_monitor_command_line_runs_on_the_baseline_and_reports(baseline):
    root, _ = baseline
    x = sample(2000, seed=9, shift={5: 3.0})
    write_capture(root / "capture", x, score(x))
    done = _run(str(REPO_CODE / "monitor.py"), "--endpoint", "dev-ep", "--baseline-dir", str(root / "baseline"),
                "--capture-dir", str(root / "capture"), "--output-dir", str(root / "report"), cwd=root)
    assert done.returncode == 0, done.stderr
    assert "violation: _c5: baseline_drift_check" in done.stdout
    assert json.loads(done.stdout.splitlines()[0])["drifted_features"] == ["_c5"]
    assert {p.name for p in (root / "report").iterdir()} == {
        "statistics.json", "constraint_violations.json", "summary.json", "report.html", "cloudwatch_metrics.json"}


def test_monitor_without_a_baseline_exits_1_with_a_reason(tmp_path):
    done = _run(str(REPO_CODE / "monitor.py"), "--endpoint", "e", "--baseline-dir", str(tmp_path),
                "--capture-dir", str(tmp_path), "--output-dir", str(tmp_path / "o"), cwd=tmp_path)
    assert done.returncode == 1 and "statistics.json and constraints.json are required" in done.stderr


def test_kll_sketch_is_exact_up_to_k_and_weighted_beyond():
    small = np.arange(KLL_K, dtype=float)
    assert kll_sketch(small)["data"] == [small.tolist()]
    big = np.random.default_rng(0).normal(size=100_000)
    sketch = kll_sketch(big)
    items, weights = sketch_points(sketch)
    assert len(sketch["data"]) == 7 and all(not level for level in sketch["data"][:6])
    assert weights.sum() == pytest.approx(100_000, rel=0.02) and len(items) <= KLL_K
    assert np.quantile(big, 0.9) == pytest.approx(items[np.searchsorted(np.cumsum(weights) / weights.sum(), 0.9)], abs=0.01)
