"""CloudWatch metrics of one monitoring run, in `PutMetricData` shape, and their publication.

Namespace `MLPlatform/ModelMonitoring` (both engines). Dimensions and metrics:

| Dimensions | Metrics |
|---|---|
| `Endpoint` | `CapturedRecords`, `MalformedRecords`, `AnalyzedRows`, `Violations`, `DriftedFeatures`, `MaxFeatureDrift`, `PredictionDrift` |
| `Endpoint` | model quality once labels arrive: `LabeledRows`, `ModelQualityViolations`, `Accuracy`, `Precision`, `Recall`, `F1`, `AUC` (classification), `RMSE`, `MAE`, `R2` (regression) |
| `Endpoint`, `Feature` | `FeatureDrift` (L-infinity distance), `FeatureMissingRatio` |

The monitoring job runs with network isolation, so it writes these as `cloudwatch_metrics.json`
next to its report, and the monitoring function publishes that file when the job completes
(`publish`); run without isolation (`--publish-metrics`), the job publishes them itself.
"""
from __future__ import annotations

import math
from datetime import datetime

NAMESPACE = "MLPlatform/ModelMonitoring"
BATCH = 500  # PutMetricData takes up to 1,000 metrics per request; stay well under its 1 MB cap
_QUALITY_NAMES = {"accuracy": "Accuracy", "precision": "Precision", "recall": "Recall", "f1": "F1",
                  "auc": "AUC", "rmse": "RMSE", "mae": "MAE", "r2": "R2", "weighted_precision": "Precision",
                  "weighted_recall": "Recall", "weighted_f1": "F1"}


def _datum(name: str, value: float, dims: list[dict], when: datetime, unit: str = "None") -> dict:
    return {"MetricName": name, "Dimensions": dims, "Timestamp": when, "Value": float(value), "Unit": unit}


def metric_data(summary: dict, when: datetime) -> list[dict]:
    """Every metric of a run summary (see `monitoring.run.summarize`)."""
    endpoint = [{"Name": "Endpoint", "Value": summary["endpoint"]}]
    data = [_datum("CapturedRecords", summary["records_read"], endpoint, when, "Count"),
            _datum("MalformedRecords", summary["malformed_records"], endpoint, when, "Count"),
            _datum("AnalyzedRows", summary["rows"], endpoint, when, "Count"),
            _datum("Violations", len(summary["violations"]), endpoint, when, "Count"),
            _datum("DriftedFeatures", len(summary["drifted_features"]), endpoint, when, "Count")]
    distances = [f["distance"] for f in summary["features"] if f["distance"] is not None]
    if distances:
        data.append(_datum("MaxFeatureDrift", max(distances), endpoint, when))
    if summary.get("prediction_drift") is not None:
        data.append(_datum("PredictionDrift", summary["prediction_drift"], endpoint, when))
    for feature in summary["features"]:
        dims = endpoint + [{"Name": "Feature", "Value": feature["name"]}]
        if feature["distance"] is not None:
            data.append(_datum("FeatureDrift", feature["distance"], dims, when))
        data.append(_datum("FeatureMissingRatio", feature["missing_ratio"], dims, when))
    quality = summary.get("model_quality")
    if quality:
        data.append(_datum("LabeledRows", quality["rows"], endpoint, when, "Count"))
        data.append(_datum("ModelQualityViolations", len(quality["violations"]), endpoint, when, "Count"))
        for name, value in quality["metrics"].items():
            if name in _QUALITY_NAMES and value is not None and math.isfinite(value):
                data.append(_datum(_QUALITY_NAMES[name], value, endpoint, when))
    return data


def publish(client, data: list[dict], namespace: str = NAMESPACE) -> int:
    """`PutMetricData` in batches; returns the number of calls made."""
    calls = 0
    for start in range(0, len(data), BATCH):
        client.put_metric_data(Namespace=namespace, MetricData=data[start:start + BATCH])
        calls += 1
    return calls


def to_json(data: list[dict], namespace: str = NAMESPACE) -> dict:
    """The file form (timestamps as ISO 8601), read back by `from_json`."""
    return {"Namespace": namespace, "MetricData": [
        {**d, "Timestamp": d["Timestamp"].isoformat()} for d in data]}


def from_json(document: dict) -> tuple[str, list[dict]]:
    return document["Namespace"], [
        {**d, "Timestamp": datetime.fromisoformat(d["Timestamp"])} for d in document["MetricData"]]
