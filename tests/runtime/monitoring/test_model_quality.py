"""Model quality against known labels, joined by inference id or event id."""
from __future__ import annotations

import json

import numpy as np
import pytest
from monitoring_testkit import capture_record, sample, score
from sklearn import metrics as skm

from monitoring import quality
from monitoring.columns import Column
from monitoring.run import MonitorSettings, run_monitor
from monitoring.statistics import build_constraints, build_statistics


def _baseline(folder, x, constraints=None):
    folder.mkdir(parents=True)
    stats = build_statistics([Column(f"_c{i}", x[:, i].copy(), 0, 0) for i in range(x.shape[1])])
    (folder / "statistics.json").write_text(json.dumps(stats))
    (folder / "constraints.json").write_text(json.dumps(build_constraints(
        stats, missing_tolerance=0.05, datatype_check_threshold=0.1, comparison_threshold=0.1,
        categorical_threshold=0.1)))
    if constraints:
        (folder / "model_quality_constraints.json").write_text(json.dumps(constraints))


def _labelled_traffic(tmp_path, n=600, seed=1, flip=0.15):
    """GIVEN captured traffic with inference ids on even rows, and labels for 500 of the rows."""
    rng = np.random.default_rng(seed)
    x = sample(n, seed=seed)
    p = score(x)
    y = (rng.random(n) < p).astype(int)
    y = np.where(rng.random(n) < flip, 1 - y, y)
    (tmp_path / "capture").mkdir()
    (tmp_path / "labels" / "2026" / "12" / "01" / "21").mkdir(parents=True)
    records = [capture_record(x[i], p[i], i, inference_id=f"req-{i}" if i % 2 == 0 else None) for i in range(n)]
    (tmp_path / "capture" / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    lines = []
    for i in range(500):
        meta = records[i]["eventMetadata"]
        lines.append(json.dumps({"groundTruthData": {"data": str(y[i]), "encoding": "CSV"},
                                 "eventMetadata": {"eventId": meta.get("inferenceId", meta["eventId"])},
                                 "eventVersion": "0"}))
    lines.append("{not json")
    (tmp_path / "labels" / "2026" / "12" / "01" / "21" / "labels.jsonl").write_text("\n".join(lines) + "\n")
    return x, p, y


def test_classification_quality_matches_scikit_learn_on_the_joined_rows(tmp_path):
    x, p, y = _labelled_traffic(tmp_path)
    _baseline(tmp_path / "baseline", x, {"binary_classification_constraints": {
        "auc": {"threshold": 0.95, "comparison_operator": "LessThanThreshold"},
        "accuracy": {"threshold": 0.1, "comparison_operator": "LessThanThreshold"}}})
    summary = run_monitor(MonitorSettings(endpoint="ep", baseline_dir=tmp_path / "baseline",
                                          capture_dir=tmp_path / "capture", labels_dir=tmp_path / "labels",
                                          output_dir=tmp_path / "report"))
    q = summary["model_quality"]
    assert q["rows"] == 500 and q["labels_refused"] == {
        "not a ground-truth record (groundTruthData and eventMetadata.eventId)": 1}
    y5, pred = y[:500], (p[:500] >= 0.5).astype(int)
    assert q["metrics"]["accuracy"] == pytest.approx(skm.accuracy_score(y5, pred))
    assert q["metrics"]["precision"] == pytest.approx(skm.precision_score(y5, pred))
    assert q["metrics"]["recall"] == pytest.approx(skm.recall_score(y5, pred))
    assert q["metrics"]["f1"] == pytest.approx(skm.f1_score(y5, pred))
    assert q["metrics"]["auc"] == pytest.approx(skm.roc_auc_score(y5, p[:500]))
    # THEN the AUC constraint (0.95) is violated and reported in Model Monitor's shape
    assert q["violations"] == [{"constraint_check_type": "LessThanThreshold", "metric_name": "auc",
                                "description": f"Metric auc with {q['metrics']['auc']:.4f} was LessThanThreshold '0.95'"}]
    written = json.loads((tmp_path / "report" / "model_quality_statistics.json").read_text())
    assert written["binary_classification_metrics"]["f1"]["value"] == pytest.approx(skm.f1_score(y5, pred))


def test_regression_metrics_match_scikit_learn():
    rng = np.random.default_rng(3)
    y = rng.normal(5, 2, 400)
    pred = y + rng.normal(0, 0.5, 400)
    m = quality.metrics("Regression", y, pred)
    assert m["rmse"] == pytest.approx(skm.mean_squared_error(y, pred) ** 0.5)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert m["r2"] == pytest.approx(skm.r2_score(y, pred))


def test_multiclass_metrics_are_weighted_as_scikit_learn_weights_them():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 300).astype(float)
    pred = np.where(rng.random(300) < 0.7, y, rng.integers(0, 3, 300)).astype(float)
    m = quality.metrics("MulticlassClassification", y, pred)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["weighted_f1"] == pytest.approx(skm.f1_score(y, pred, average="weighted"))


def test_labels_for_several_rows_of_one_request_join_row_by_row():
    labels = {"r1": [1.0, 0.0]}
    y, p = quality.join([("r1", 0), ("r1", 1), ("r2", 0)], [0.9, 0.2, 0.4], labels)
    assert y.tolist() == [1.0, 0.0] and p.tolist() == [0.9, 0.2]


def test_suggested_constraints_sit_a_tolerance_below_the_baseline():
    c = quality.suggested_constraints("Regression", {"rmse": 2.0, "mae": 1.0, "r2": 0.8, "mse": 4.0}, 0.1)
    assert c["regression_constraints"] == {
        "rmse": {"threshold": 2.2, "comparison_operator": "GreaterThanThreshold"},
        "mae": {"threshold": 1.1, "comparison_operator": "GreaterThanThreshold"},
        "r2": {"threshold": 0.72, "comparison_operator": "LessThanThreshold"}}
