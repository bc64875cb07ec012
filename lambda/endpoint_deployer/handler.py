"""Endpoint deployer: EventBridge (or the CI/CD pipeline) -> SageMaker endpoint.

Events handled:
  * `SageMaker Model Package State Change` with ModelApprovalStatus Approved for this environment's
    group: deploy that package (other statuses and groups are ignored, not failed);
  * `SageMaker Endpoint State Change` IN_SERVICE for this endpoint: register its autoscaling;
  * `{"ModelPackageArn": "..."}` (pipeline promotion) or `{"action": "deploy-latest"}`: deploy it,
    or the newest Approved package (an empty registry is a clear error).
Failures raise, so EventBridge retries and then parks the event in the dead-letter queue.
"""
from __future__ import annotations

import json
import logging

import boto3

from deployer_actions import deploy, latest_approved_package_arn
from deployer_scaling import apply_scaling
from deployer_settings import DeploymentError, Settings, settings_from

log = logging.getLogger()
log.setLevel(logging.INFO)

PACKAGE_CHANGE = "SageMaker Model Package State Change"
ENDPOINT_CHANGE = "SageMaker Endpoint State Change"


def handle(event: dict, settings: Settings, sagemaker, autoscaling=None, cloudwatch=None, s3=None) -> dict:
    """Route one event; the AWS clients are passed in so tests can stub them."""
    kind = event.get("detail-type")
    detail = event.get("detail") or {}
    if kind == PACKAGE_CHANGE:
        status, group = detail.get("ModelApprovalStatus"), detail.get("ModelPackageGroupName")
        if status != "Approved" or group != settings.model_package_group:
            return {"action": "ignored", "reason": f"package of group {group!r} is {status}"}
        return deploy(sagemaker, settings, detail["ModelPackageArn"], s3)
    if kind == ENDPOINT_CHANGE:
        if detail.get("EndpointName") != settings.endpoint_name or detail.get("EndpointStatus") != "IN_SERVICE":
            return {"action": "ignored", "reason": f"endpoint {detail.get('EndpointName')!r} "
                                                   f"is {detail.get('EndpointStatus')}"}
        if settings.scaling is None:
            return {"action": "ignored", "reason": "this endpoint has no autoscaling"}
        return apply_scaling(autoscaling, cloudwatch, settings.scaling)
    if event.get("ModelPackageArn"):
        return deploy(sagemaker, settings, event["ModelPackageArn"], s3)
    if event.get("action") == "deploy-latest":
        return deploy(sagemaker, settings, latest_approved_package_arn(sagemaker, settings.model_package_group), s3)
    raise DeploymentError(f"unrecognised event (detail-type {kind!r}); expected a model package approval, an "
                          "endpoint state change, {'ModelPackageArn': ...} or {'action': 'deploy-latest'}")


def handler(event: dict, context) -> dict:
    """Lambda entry point."""
    settings = settings_from()
    result = handle(event, settings, boto3.client("sagemaker"), boto3.client("application-autoscaling"),
                    boto3.client("cloudwatch"), boto3.client("s3"))
    log.info(json.dumps(result))
    return result
