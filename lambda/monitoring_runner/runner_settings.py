"""The monitoring function's settings, read once from the environment the CDK construct wrote."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass


class MonitoringError(Exception):
    """The run cannot start or its results cannot be published; the message says why."""


@dataclass(frozen=True)
class Settings:
    """Everything a monitoring job request needs that does not depend on the endpoint's model."""

    job_prefix: str            # processing job names start with it (the alarms' and rules' filter)
    role_arn: str
    image_uri: str
    code_uri: str              # s3://.../sourcedir-<hash>.tar.gz: training_code/ (monitor.py inside)
    instance_type: str
    volume_size_gb: int
    max_runtime_s: int
    kms_key_arn: str           # volumes and outputs
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    capture_s3_uri: str        # the endpoints' DataCaptureConfig.DestinationS3Uri
    labels_s3_uri: str         # ground truth: <labels>/<endpoint>/yyyy/mm/dd/hh/*.jsonl
    reports_s3_uri: str        # job outputs: <reports>/<endpoint>/<job name>/
    window_hours: int
    label_lookback_hours: int  # captures this much older than the window are joined to late labels
    arguments: tuple[str, ...]  # thresholds and problem type for monitor.py
    namespace: str = "MLPlatform/ModelMonitoring"
    # Model Monitor engine: {endpoint: {"baseline": s3 uri of the current prefix, "schedules":
    # [{"name", "definition", "type", "cron"}]}}; empty with our engine.
    model_monitor: dict | None = None


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.split(",") if v)


REQUIRED = ("JOB_PREFIX", "ROLE_ARN", "IMAGE_URI", "CODE_URI", "INSTANCE_TYPE", "KMS_KEY_ARN", "SUBNET_IDS",
            "SECURITY_GROUP_IDS", "CAPTURE_S3_URI", "LABELS_S3_URI", "REPORTS_S3_URI")


def settings_from(env: dict | None = None) -> Settings:
    """Parse the variables `OurMonitor` sets; a missing one is a clear error, not a KeyError."""
    env = os.environ if env is None else env
    missing = [k for k in REQUIRED if not env.get(k)]
    if missing:
        raise MonitoringError(f"monitoring function misconfigured: environment variable(s) {missing} not set")
    return Settings(
        job_prefix=env["JOB_PREFIX"], role_arn=env["ROLE_ARN"], image_uri=env["IMAGE_URI"], code_uri=env["CODE_URI"],
        instance_type=env["INSTANCE_TYPE"], volume_size_gb=int(env.get("VOLUME_SIZE_GB", "30")),
        max_runtime_s=int(env.get("MAX_RUNTIME_S", "3600")), kms_key_arn=env["KMS_KEY_ARN"],
        subnet_ids=_split(env["SUBNET_IDS"]), security_group_ids=_split(env["SECURITY_GROUP_IDS"]),
        capture_s3_uri=env["CAPTURE_S3_URI"].rstrip("/"), labels_s3_uri=env["LABELS_S3_URI"].rstrip("/"),
        reports_s3_uri=env["REPORTS_S3_URI"].rstrip("/"), window_hours=int(env.get("WINDOW_HOURS", "1")),
        label_lookback_hours=int(env.get("LABEL_LOOKBACK_HOURS", "0")),
        arguments=tuple(json.loads(env.get("MONITOR_ARGUMENTS", "[]"))),
        namespace=env.get("METRICS_NAMESPACE", "MLPlatform/ModelMonitoring"),
        model_monitor=json.loads(env["MODEL_MONITOR"]) if env.get("MODEL_MONITOR") else None)
