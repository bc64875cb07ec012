"""Monitoring function: starts our monitoring jobs and publishes their metrics.

Events handled:
  * `{"action": "monitor", "endpoint": "<name>"}` from the schedule rule (one per monitored
    endpoint): start a processing job on the last window's data capture, with the baseline of
    the model the endpoint serves; skipped (not failed) while nothing is deployed or captured;
  * `SageMaker Processing Job State Change`, Completed: publish the job's metrics to CloudWatch,
    for our jobs (name starts with JOB_PREFIX, `MONITORED_ENDPOINT` in their environment) and
    Model Monitor executions (`sagemaker_endpoint_name`); other jobs are ignored. The event's
    detail carries no environment (AWS's example event has none), so the job is described.
  * `SageMaker Endpoint State Change`, InService, for an endpoint the Model Monitor engine
    watches: copy the deployed model's baseline to the endpoint's current-baseline prefix and
    create or update its monitoring schedules (see runner_schedules.py).
Failures raise, so EventBridge retries and then parks the event in the dead-letter queue.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import boto3

from runner_jobs import start_run
from runner_metrics import publish_job_metrics
from runner_schedules import on_endpoint_in_service
from runner_settings import MonitoringError, Settings, settings_from

log = logging.getLogger()
log.setLevel(logging.INFO)

JOB_CHANGE = "SageMaker Processing Job State Change"
ENDPOINT_CHANGE = "SageMaker Endpoint State Change"


def _endpoint_of(sagemaker, name: str, settings: Settings) -> str | None:
    env = sagemaker.describe_processing_job(ProcessingJobName=name).get("Environment") or {}
    if name.startswith(settings.job_prefix):
        return env.get("MONITORED_ENDPOINT")
    return env.get("sagemaker_endpoint_name")  # set by Model Monitor on its executions


def handle(event: dict, settings: Settings, sagemaker, s3, cloudwatch, now: datetime | None = None) -> dict:
    """Route one event; the AWS clients are passed in so tests can stub them."""
    if event.get("action") == "monitor":
        if not event.get("endpoint"):
            raise MonitoringError('monitor event without "endpoint"')
        return start_run(sagemaker, s3, settings, event["endpoint"], now or datetime.now(timezone.utc))
    if event.get("detail-type") == JOB_CHANGE:
        detail = event.get("detail") or {}
        if detail.get("ProcessingJobStatus") != "Completed":
            return {"action": "ignored", "reason": f"job {detail.get('ProcessingJobName')} is "
                                                   f"{detail.get('ProcessingJobStatus')}"}
        endpoint = _endpoint_of(sagemaker, detail["ProcessingJobName"], settings)
        if not endpoint:
            return {"action": "ignored", "reason": f"job {detail.get('ProcessingJobName')} monitors no endpoint"}
        return publish_job_metrics(s3, cloudwatch, detail, endpoint, settings.namespace)
    if event.get("detail-type") == ENDPOINT_CHANGE:
        return _endpoint_changed(event.get("detail") or {}, settings, sagemaker, s3)
    raise MonitoringError(f"unrecognised event (detail-type {event.get('detail-type')!r}); expected "
                          '{"action": "monitor", "endpoint": ...} or a processing job state change')


def _endpoint_changed(detail: dict, settings: Settings, sagemaker, s3) -> dict:
    endpoint, status = detail.get("EndpointName"), detail.get("EndpointStatus")
    watched = (settings.model_monitor or {}).get(endpoint)
    if watched is None or status != "IN_SERVICE":
        return {"action": "ignored", "reason": f"endpoint {endpoint!r} is {status}"
                                               f"{'' if watched else ' and not watched by Model Monitor'}"}
    return on_endpoint_in_service(sagemaker, s3, endpoint=endpoint, watched=watched, kms_key_arn=settings.kms_key_arn)


def handler(event: dict, context) -> dict:
    """Lambda entry point."""
    result = handle(event, settings_from(), boto3.client("sagemaker"), boto3.client("s3"), boto3.client("cloudwatch"))
    log.info(json.dumps(result, default=str))
    return result
