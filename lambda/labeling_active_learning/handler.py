"""Active-learning steps and the labeling-job launcher's checks and export (one function).

Handler `handler.handler`. Input (the state machine passes it):
  {"action": "prepare" | "select" | "merge" | "export", "round": <n>,
   "run": {"bucket": "<curated bucket>", "prefix": "labeled/active-learning/<run>/"},
   "settings": {"classes": [...], "target_accuracy": 0.95, ...},      (active_learning_steps.RunSettings)
   "outputManifests": ["s3://.../output.manifest", ...]}              (merge only)
validate (the labeling-job state machine, first): {"action": "validate", "request": <the run input with
   its defaults>, "jobNamePrefix", "inputPrefix": "s3://<raw>/labeling/"} -> {"objectCount"}, or
   InvalidLabelingRequest naming the field (labeling_validate.py)
export (the labeling-job state machine, after a job): {"action": "export", "outputManifest", "jobName",
   "labelAttributeName", "run": {"bucket", "prefix": "labeled/tables/"}} (labeling_export.py)
Returns the step's summary (active_learning_steps). Bad input raises StepError with the field named;
the state machine then fails the run and reports it to the alert topic.

Settings (environment variables, optional): KMS_KEY_ID, the key every object it writes is encrypted with.
"""
from __future__ import annotations

import json
import os
from typing import Any

import boto3

from active_learning_steps import RunSettings, StepError, merge, prepare, select
from active_learning_store import S3Store
from labeling_export import export_output_manifest
from labeling_validate import validate

_s3 = None


def handler(event: dict, context: Any, client=None) -> dict:
    """Run one step on the run prefix in S3."""
    global _s3
    if client is None:
        _s3 = _s3 or boto3.client("s3")
        client = _s3
    action, round_number = event.get("action"), event.get("round", 0)
    if action == "validate":
        result = validate(event.get("request"), lambda uri: _read_manifest(client, uri),
                          job_prefix=str(event.get("jobNamePrefix") or ""),
                          input_prefix=str(event.get("inputPrefix") or ""))
        _log(action, result)
        return result
    run = event.get("run") or {}
    if not isinstance(run.get("bucket"), str) or not isinstance(run.get("prefix"), str):
        raise StepError("run.bucket and run.prefix are required")
    if not isinstance(round_number, int) or round_number < 0:
        raise StepError("round must be a non-negative integer")
    store = S3Store(client, run["bucket"], run["prefix"], os.environ.get("KMS_KEY_ID"))
    if action == "export":
        manifest, job = event.get("outputManifest"), event.get("jobName")
        if not isinstance(manifest, str) or not manifest.startswith("s3://") or not isinstance(job, str):
            raise StepError("export needs outputManifest (s3:// URI) and jobName")
        result = export_output_manifest(store, manifest, job, str(event.get("labelAttributeName") or "label"))
        _log(action, result)
        return result
    settings = RunSettings.from_event(event.get("settings"))
    if action == "prepare":
        result = prepare(store, settings, round_number)
    elif action == "select":
        result = select(store, settings, round_number)
    elif action == "merge":
        manifests = [m for m in event.get("outputManifests") or [] if m is not None]
        if not all(isinstance(m, str) and m.startswith("s3://") for m in manifests):
            raise StepError("outputManifests must be a list of s3:// URIs")
        result = merge(store, settings, round_number, manifests)
    else:
        raise StepError(f"action must be validate, prepare, select, merge or export, not {action!r}")
    _log(action, result)
    return result


def _read_manifest(client, uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except client.exceptions.NoSuchKey:
        raise FileNotFoundError(uri) from None


def _log(action: str, result: dict) -> None:
    print(json.dumps({"level": "INFO", "message": f"labeling_{action}", **result}, default=str), flush=True)
