"""Publish a finished monitoring job's metrics to CloudWatch (the job itself is network-isolated).

Our jobs write `cloudwatch_metrics.json` (PutMetricData's shape, see
training_code/monitoring/cloudwatch.py). A Model Monitor execution writes
`constraint_violations.json` instead; from it the same endpoint-level metrics (`Violations`,
`DriftedFeatures`, `ModelQualityViolations`) are derived, so one set of alarms serves both engines.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from runner_jobs import split_s3

BATCH = 500


def _read_json(s3, uri: str) -> dict | None:
    bucket, key = split_s3(uri)
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise


def _output_uri(detail: dict) -> str | None:
    outputs = (detail.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    return outputs[0]["S3Output"]["S3Uri"].rstrip("/") if outputs else None


def from_violations(endpoint: str, document: dict, when: datetime) -> list[dict]:
    """Endpoint-level metrics from Model Monitor's `constraint_violations.json`."""
    violations = document.get("violations", [])
    dims = [{"Name": "Endpoint", "Value": endpoint}]
    drifted = {v.get("feature_name") for v in violations if v.get("constraint_check_type") == "baseline_drift_check"}
    quality = [v for v in violations if v.get("metric_name")]
    return [{"MetricName": name, "Dimensions": dims, "Timestamp": when, "Value": float(value), "Unit": "Count"}
            for name, value in (("Violations", len(violations) - len(quality)), ("DriftedFeatures", len(drifted)),
                                ("ModelQualityViolations", len(quality)))]


def publish_job_metrics(s3, cloudwatch, detail: dict, endpoint: str, namespace: str) -> dict:
    """Read the job's output and PutMetricData; returns what was published."""
    output = _output_uri(detail)
    if output is None:
        return {"action": "ignored", "reason": "job has no output"}
    ours = _read_json(s3, f"{output}/cloudwatch_metrics.json")
    if ours is not None:
        data = [{**d, "Timestamp": datetime.fromisoformat(d["Timestamp"])} for d in ours["MetricData"]]
    else:
        violations = _read_json(s3, f"{output}/constraint_violations.json")
        if violations is None:
            return {"action": "ignored", "reason": f"no cloudwatch_metrics.json or constraint_violations.json under {output}"}
        ended = detail.get("ProcessingEndTime")
        when = datetime.fromtimestamp(ended / 1000, timezone.utc) if isinstance(ended, (int, float)) else datetime.now(timezone.utc)
        data = from_violations(endpoint, violations, when)
    for start in range(0, len(data), BATCH):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start:start + BATCH])
    return {"action": "published", "endpoint": endpoint, "metrics": len(data), "source": output}
