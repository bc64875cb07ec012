"""One monitoring run: a window of captured traffic against the baseline; files for both engines.

Inputs: the baseline folder (`statistics.json`, `constraints.json`, optional
`prediction_statistics.json`, `model_quality_constraints.json`), the capture folder, optionally a
ground-truth folder. Outputs in `output_dir`: `statistics.json` (this window, Model Monitor's
shape), `constraint_violations.json`, `model_quality_statistics.json` (when labels joined),
`summary.json`, `report.html`, `cloudwatch_metrics.json`.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from monitoring import cloudwatch, quality, report_html
from monitoring.capture import capture_files, read_window
from monitoring.drift import Thresholds, check_feature, numeric_distance
from monitoring.statistics import build_statistics


@dataclass(frozen=True)
class MonitorSettings:
    endpoint: str
    baseline_dir: Path
    capture_dir: Path
    output_dir: Path
    labels_dir: Path | None = None
    since: datetime | None = None
    until: datetime | None = None
    problem_type: str = "BinaryClassification"
    probability_threshold: float = 0.5
    prediction_threshold: float | None = None  # prediction drift; default: comparison threshold
    thresholds: dict | None = None             # overrides of the constraints' monitoring_config
    workers: int = 0                           # parsing processes; 0 = one per CPU


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def run_monitor(s: MonitorSettings) -> dict:
    """Analyse the window, write every output file, and return the run summary."""
    statistics, constraints = _load(s.baseline_dir / "statistics.json"), _load(s.baseline_dir / "constraints.json")
    if statistics is None or constraints is None:
        raise FileNotFoundError(f"{s.baseline_dir}: statistics.json and constraints.json are required")
    features = statistics["features"]
    names = [f["name"] for f in features]
    strings = frozenset(f["name"] for f in features if f["inferred_type"] == "String")
    window = read_window(capture_files(s.capture_dir), names, s.since, s.until, string_features=strings,
                         collect_keys=s.labels_dir is not None, workers=s.workers or os.cpu_count() or 1)
    columns = window.columns()
    t = Thresholds.from_constraints(constraints, **(s.thresholds or {}))
    by_name = {c["name"]: c for c in constraints["features"]}
    results = [check_feature(f, by_name.get(f["name"], {}), c, t) for f, c in zip(features, columns, strict=False)]
    violations = [v for r in results for v in r.violations]
    summary = {"endpoint": s.endpoint, "window_start": _iso(s.since), "window_end": _iso(s.until),
               "records_read": window.records_read, "records_used": window.records_used,
               "records_outside_window": window.records_outside_window,
               "malformed_records": window.malformed_records, "malformed": dict(window.malformed),
               "malformed_examples": window.examples, "rows": window.rows,
               "features": [asdict(r) for r in results],
               "drifted_features": [r.name for r in results if r.drifted]}
    violations += _prediction_drift(s, window.predictions, t, summary)
    summary["model_quality"] = _model_quality(s, window) if s.labels_dir else None
    if summary["model_quality"]:
        violations += summary["model_quality"]["violations"]
    summary["violations"] = violations
    _write(s, summary, build_statistics(columns) if window.rows else None,
           {f["name"]: (f, c) for f, c in zip(features, columns, strict=False)})
    return summary


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _prediction_drift(s: MonitorSettings, predictions: list, t: Thresholds, summary: dict) -> list:
    baseline = _load(s.baseline_dir / "prediction_statistics.json")
    scores = np.array([p for p in predictions if p is not None], dtype=np.float64)
    summary["prediction_drift"], summary["prediction_drifted"] = None, False
    if baseline is None or not len(scores):
        return []
    sketch = baseline["features"][0]["numerical_statistics"]["distribution"]["kll"]["sketch"]
    distance, _ = numeric_distance(sketch, scores)
    limit = s.prediction_threshold if s.prediction_threshold is not None else t.comparison
    summary["prediction_drift"], summary["prediction_drifted"] = distance, distance > limit
    if distance <= limit:
        return []
    return [{"feature_name": baseline["features"][0]["name"], "constraint_check_type": "baseline_drift_check",
             "description": f"Prediction drift distance {distance:.4f} exceeds threshold {limit}"}]


def _model_quality(s: MonitorSettings, window) -> dict | None:
    labels, refused = quality.read_labels(capture_files(s.labels_dir)) if s.labels_dir.exists() else ({}, {})
    y, score = quality.join(window.keys, window.predictions, labels)
    if not len(y):
        return {"rows": 0, "labels_read": len(labels), "labels_refused": dict(refused), "metrics": {},
                "violations": []}
    values = quality.metrics(s.problem_type, y, score, s.probability_threshold)
    constraints = _load(s.baseline_dir / "model_quality_constraints.json") or {}
    return {"rows": int(len(y)), "labels_read": len(labels), "labels_refused": dict(refused),
            "metrics": values, "violations": quality.violations(s.problem_type, values, constraints)}


def _write(s: MonitorSettings, summary: dict, statistics: dict | None, pairs: dict) -> None:
    out = s.output_dir
    out.mkdir(parents=True, exist_ok=True)
    if statistics is not None:
        (out / "statistics.json").write_text(json.dumps(statistics))
    (out / "constraint_violations.json").write_text(json.dumps({"violations": summary["violations"]}, indent=1))
    quality_summary = summary.get("model_quality")
    if quality_summary and quality_summary["rows"]:
        (out / "model_quality_statistics.json").write_text(json.dumps(quality.statistics_document(
            s.problem_type, quality_summary["metrics"], quality_summary["rows"]), indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    charts = {name: report_html.feature_chart(*pairs[name]) for name in summary["drifted_features"]}
    (out / "report.html").write_text(report_html.render(summary, charts))
    data = cloudwatch.metric_data(summary, s.until or datetime.now(timezone.utc))
    (out / "cloudwatch_metrics.json").write_text(json.dumps(cloudwatch.to_json(data)))
