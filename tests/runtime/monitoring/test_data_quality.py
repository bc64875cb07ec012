"""The monitor on generated capture files: drift in one feature flags that feature only, no drift
flags nothing, missing and mistyped values are caught where they are."""
from __future__ import annotations

import json

import numpy as np
import pytest
from monitoring_testkit import sample, score, write_capture, write_label_first

from monitoring.baseline_job import BaselineSettings, run_baseline
from monitoring.columns import Column
from monitoring.run import MonitorSettings, run_monitor
from monitoring.statistics import build_statistics


@pytest.fixture(scope="module")
def baseline_dir(tmp_path_factory):
    """GIVEN a baseline computed by the baseline step from 8,000 label-first training rows."""
    root = tmp_path_factory.mktemp("baseline")
    x = sample(8000, seed=1)
    write_label_first(root / "train" / "train.csv", x, (score(x) > 0.5).astype(float))
    run_baseline(BaselineSettings(train_dir=root / "train", output_dir=root / "baseline"))
    prediction = build_statistics([Column("prediction", score(x), 0, 0)])
    (root / "baseline" / "prediction_statistics.json").write_text(json.dumps(prediction))
    return root / "baseline"


def _monitor(tmp_path, baseline_dir, x, predictions=None, **capture):
    write_capture(tmp_path / "capture", x, score(x) if predictions is None else predictions, **capture)
    return run_monitor(MonitorSettings(endpoint="ep", baseline_dir=baseline_dir,
                                       capture_dir=tmp_path / "capture", output_dir=tmp_path / "report"))


def test_traffic_like_the_baseline_raises_no_violation(tmp_path, baseline_dir):
    summary = _monitor(tmp_path, baseline_dir, sample(3000, seed=2))
    assert summary["violations"] == []
    assert summary["drifted_features"] == [] and summary["prediction_drifted"] is False
    assert max(f["distance"] for f in summary["features"]) < 0.05
    assert json.loads((tmp_path / "report" / "constraint_violations.json").read_text()) == {"violations": []}


def test_drift_injected_into_one_feature_flags_that_feature_only(tmp_path, baseline_dir):
    # WHEN feature _c1 (exponential, sd 2; the model ignores it) shifts by one standard deviation
    summary = _monitor(tmp_path, baseline_dir, sample(3000, seed=3, shift={1: 2.0}))
    assert summary["drifted_features"] == ["_c1"] and summary["prediction_drifted"] is False
    drift = [v for v in summary["violations"] if v["constraint_check_type"] == "baseline_drift_check"]
    assert [v["feature_name"] for v in drift] == ["_c1"]
    distances = {f["name"]: f["distance"] for f in summary["features"]}
    assert distances["_c1"] > 0.3 and all(d < 0.05 for n, d in distances.items() if n != "_c1")
    report = (tmp_path / "report" / "report.html").read_text()
    assert report.count("<svg") == 1 and 'aria-label="_c1"' in report


def test_shifted_predictions_raise_prediction_drift(tmp_path, baseline_dir):
    x = sample(3000, seed=4)
    summary = _monitor(tmp_path, baseline_dir, x, predictions=np.clip(score(x) + 0.3, 0, 1))
    assert summary["prediction_drifted"] and summary["drifted_features"] == []
    assert [v["feature_name"] for v in summary["violations"]] == ["prediction"]


def test_missing_values_in_one_feature_fail_its_completeness_only(tmp_path, baseline_dir):
    x = sample(2000, seed=5)
    x[np.random.default_rng(0).random(2000) < 0.3, 1] = np.nan  # 30% empty cells in _c1
    summary = _monitor(tmp_path, baseline_dir, x)
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in summary["violations"]}
    assert checks == {("_c1", "completeness_check")}
    assert summary["features"][1]["missing_ratio"] == pytest.approx(0.3, abs=0.03)


def test_non_numeric_and_fractional_values_are_type_violations(tmp_path, baseline_dir):
    rows = sample(1000, seed=6).astype(object)
    rows[:200, 0] = "abc"        # text in a numeric feature
    rows[:300, 4] = 2.5          # fractions in an Integral feature (0..4)
    summary = _monitor(tmp_path, baseline_dir, rows, predictions=np.full(1000, 0.5))
    types = {v["feature_name"] for v in summary["violations"] if v["constraint_check_type"] == "data_type_check"}
    assert types == {"_c0", "_c4"}


def test_values_beyond_the_baseline_range_are_range_violations(tmp_path, baseline_dir):
    x = sample(1000, seed=7)
    x[:100, 2] = 50.0  # uniform(-3, 3) in the baseline
    summary = _monitor(tmp_path, baseline_dir, x)
    assert ("_c2", "range_check") in {(v["feature_name"], v["constraint_check_type"]) for v in summary["violations"]}


def test_thresholds_from_configuration_override_the_constraints(tmp_path, baseline_dir):
    x = sample(3000, seed=8, shift={0: 0.3})  # a small shift: distance about 0.12
    write_capture(tmp_path / "capture", x, score(x))
    common = dict(endpoint="ep", baseline_dir=baseline_dir, capture_dir=tmp_path / "capture")
    strict = run_monitor(MonitorSettings(**common, output_dir=tmp_path / "a"))
    lenient = run_monitor(MonitorSettings(**common, output_dir=tmp_path / "b", thresholds={"comparison": 0.3}))
    assert strict["drifted_features"] == ["_c0"] and lenient["drifted_features"] == []


def _categorical_baseline(folder, rng):
    from monitoring.statistics import build_constraints

    folder.mkdir()
    colours = rng.choice(["red", "green", "blue"], size=4000, p=[0.5, 0.3, 0.2]).tolist()
    numbers = rng.normal(size=4000)
    stats = build_statistics([Column("amount", numbers, 0, 0),
                              Column("colour", np.full(4000, np.nan), 0, 0, strings=colours)])
    (folder / "statistics.json").write_text(json.dumps(stats))
    (folder / "constraints.json").write_text(json.dumps(build_constraints(
        stats, missing_tolerance=0.05, datatype_check_threshold=0.1, comparison_threshold=0.1,
        categorical_threshold=0.1)))


@pytest.mark.parametrize("probabilities, unseen, expected", [
    ([0.5, 0.3, 0.2], 0.0, set()),
    ([0.2, 0.3, 0.5], 0.0, {("colour", "baseline_drift_check")}),
    ([0.4, 0.25, 0.15], 0.2, {("colour", "categorical_values_check"), ("colour", "baseline_drift_check")}),
], ids=["same-frequencies", "swapped-frequencies", "unseen-values"])
def test_categorical_features_drift_by_frequency_distance(tmp_path, probabilities, unseen, expected):
    rng = np.random.default_rng(11)
    _categorical_baseline(tmp_path / "baseline", rng)
    n = 2000
    colours = rng.choice(["red", "green", "blue", "purple"], size=n, p=probabilities + [unseen]).tolist()
    rows = [[float(v), c] for v, c in zip(rng.normal(size=n), colours, strict=False)]
    write_capture(tmp_path / "capture", rows, np.full(n, 0.5), request_type="application/json")
    summary = run_monitor(MonitorSettings(endpoint="ep", baseline_dir=tmp_path / "baseline",
                                          capture_dir=tmp_path / "capture", output_dir=tmp_path / "report"))
    assert {(v["feature_name"], v["constraint_check_type"]) for v in summary["violations"]} == expected
