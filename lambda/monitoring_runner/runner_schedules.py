"""Model Monitor engine: when an endpoint comes InService with a model, point the monitoring
schedules at that model's baseline.

Job definitions are created by the stack (create-only, named from a hash of their content) and
read the baseline from a fixed "current" prefix per endpoint. On every deployment this copies the
deployed model package's baseline files there and creates each schedule that does not exist yet,
or updates one that runs an older job definition. A schedule needs an endpoint that exists with
data capture, which is why the stack cannot create it before the first model is deployed.
"""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from runner_jobs import deployed_baseline, split_s3

BASELINE_FILES = ("statistics.json", "constraints.json", "model_quality_constraints.json")


def copy_baseline(s3, source_uri: str, target_uri: str, kms_key_arn: str) -> list[str]:
    """Copy the baseline files that exist under `source_uri` to `target_uri`; returns their names."""
    source_bucket, source_prefix = split_s3(source_uri)
    target_bucket, target_prefix = split_s3(target_uri)
    copied = []
    for name in BASELINE_FILES:
        try:
            s3.copy_object(Bucket=target_bucket, Key=f"{target_prefix}/{name}",
                           CopySource={"Bucket": source_bucket, "Key": f"{source_prefix}/{name}"},
                           ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_arn)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404") and name != "statistics.json":
                continue  # model quality constraints exist only for packages baselined with a test split
            raise
        copied.append(name)
    return copied


def ensure_schedule(sm, schedule: dict) -> str:
    """Create the schedule, or update it when it runs another job definition; returns what it did."""
    config = {"ScheduleConfig": {"ScheduleExpression": schedule["cron"]},
              "MonitoringJobDefinitionName": schedule["definition"], "MonitoringType": schedule["type"]}
    try:
        current = sm.describe_monitoring_schedule(MonitoringScheduleName=schedule["name"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFound":
            raise
        sm.create_monitoring_schedule(MonitoringScheduleName=schedule["name"], MonitoringScheduleConfig=config)
        return "created"
    existing = current["MonitoringScheduleConfig"]
    if (existing.get("MonitoringJobDefinitionName") == schedule["definition"]
            and existing.get("ScheduleConfig", {}).get("ScheduleExpression") == schedule["cron"]):
        return "unchanged"
    sm.update_monitoring_schedule(MonitoringScheduleName=schedule["name"], MonitoringScheduleConfig=config)
    return "updated"


MODEL_NAME_PLACEHOLDER = "{{deployed_model_name}}"  # as ml_platform/constructs/monitoring/clarify_config.py writes it


def write_clarify_configs(s3, configs: dict, model_name: str, kms_key_arn: str) -> list[str]:
    """Each Clarify analysis configuration ({s3 uri: config}) with the deployed model filled in."""
    written = []
    for uri, config in configs.items():
        body = json.dumps(config).replace(MODEL_NAME_PLACEHOLDER, model_name).encode()
        bucket, key = split_s3(uri)
        s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_arn)
        written.append(uri)
    return written


def on_endpoint_in_service(sm, s3, *, endpoint: str, watched: dict, kms_key_arn: str) -> dict:
    """Baseline of the deployed model to the current prefix, Clarify configurations for that
    model, then every schedule of the endpoint."""
    found = deployed_baseline(sm, endpoint)
    if found is None:
        return {"action": "ignored", "reason": f"endpoint {endpoint} does not exist"}
    copied = copy_baseline(s3, found.baseline_uri, watched["baseline"], kms_key_arn)
    clarify = write_clarify_configs(s3, watched.get("clarify", {}), found.model_name, kms_key_arn)
    return {"action": "scheduled", "model_package": found.package_arn, "baseline": copied, "clarify": clarify,
            "schedules": {s["name"]: ensure_schedule(sm, s) for s in watched["schedules"]}}
