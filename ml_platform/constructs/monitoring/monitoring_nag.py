"""cdk-nag acknowledgments of the monitoring stack's scoped wildcards, one finding at a time.

Every acknowledged finding is a CDK grant's action group or a wildcard inside a named prefix or
name pattern; the reason says which, so a reviewer can check it against the policy.
"""
from __future__ import annotations

import aws_cdk as cdk

from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.monitoring.model_monitor import MODEL_MONITOR_PREFIX
from ml_platform.constructs.monitoring.our_monitor import (
    BASELINES_PREFIX,
    CAPTURE_PREFIX,
    LABELS_PREFIX,
    REPORTS_PREFIX,
)
from ml_platform.grant_acknowledgments import KMS, S3_READ_WRITE, acknowledge_grants
from ml_platform.naming import Naming

_PREFIX_REASONS = {
    CAPTURE_PREFIX: "the endpoint's data capture (objects named by SageMaker per hour and request batch), read-only",
    LABELS_PREFIX: "ground-truth files the label owners upload per endpoint and hour, read-only",
    BASELINES_PREFIX: "baselines the training pipeline wrote per execution, read-only",
    REPORTS_PREFIX: "the monitoring runs' reports and manifests, one folder per run",
    MODEL_MONITOR_PREFIX: "Model Monitor's current baseline, Clarify configurations and reports of this endpoint",
}


def _s3(naming: Naming, prefix: str) -> str:
    return f"Resource::arn:aws:s3:::{naming.bucket_name('artifacts')}/{prefix}/*"


def acknowledge_monitoring_grants(stack: cdk.Stack, *, naming: Naming, endpoint: str) -> None:
    """Acknowledge the IAM5 findings on the monitoring roles' policies, each with its reason."""
    region, account = stack.region, stack.account
    sm = f"arn:aws:sagemaker:{region}:{account}"
    job: PlatformRole = stack.ours.job_role  # type: ignore[attr-defined]
    acknowledge_grants(job, actions=S3_READ_WRITE + KMS, resources={
        **{_s3(naming, p): f"Monitoring job: {_PREFIX_REASONS[p]}"
           for p in (CAPTURE_PREFIX, LABELS_PREFIX, BASELINES_PREFIX, REPORTS_PREFIX)},
        f"Resource::arn:aws:s3:::cdk-hnb659fds-assets-{account}-{region}/*":
            "CDK's file-asset grant on the bootstrap asset bucket: read-only; the code tarball's key is "
            "content-hashed and changes with the code"})
    runner: PlatformRole = stack.runner.role  # type: ignore[attr-defined]
    acknowledge_grants(runner, resources={
        _s3(naming, REPORTS_PREFIX): f"Monitoring function: {_PREFIX_REASONS[REPORTS_PREFIX]} (writes manifests, "
                                     "reads metrics files)",
        f"Resource::{sm}:endpoint-config/{endpoint}-config-*":
            "The deployer names endpoint configurations <endpoint>-config-<content hash>; describe only",
        f"Resource::{sm}:model/{endpoint}-model-*":
            "The deployer names models <endpoint>-model-<content hash>; describe and list tags only",
        f"Resource::{sm}:model-package/{naming.resource_name('models')}/*":
            "Versions of this environment's model package group; DescribeModelPackage only",
        f"Resource::{sm}:processing-job/{naming.resource_name('monitor')}-*":
            "Our monitoring jobs are named <prefix>-monitor-<window end>; create, tag and describe only"})
    engine = getattr(stack, "engine", None)
    if engine is None:
        return
    acknowledge_grants(engine.role, actions=S3_READ_WRITE + KMS, resources={
        _s3(naming, f"{CAPTURE_PREFIX}/{endpoint}"): f"Model Monitor: {_PREFIX_REASONS[CAPTURE_PREFIX]}",
        _s3(naming, f"{LABELS_PREFIX}/{endpoint}"): f"Model Monitor: {_PREFIX_REASONS[LABELS_PREFIX]}",
        _s3(naming, f"{MODEL_MONITOR_PREFIX}/{endpoint}"): f"Model Monitor: {_PREFIX_REASONS[MODEL_MONITOR_PREFIX]}",
        f"Resource::{sm}:endpoint/sm-clarify-*": "Clarify names its shadow endpoints sm-clarify-<job>: it creates, "
                                                 "invokes and deletes only those",
        f"Resource::{sm}:endpoint-config/sm-clarify-*": "Clarify's shadow endpoint configurations, sm-clarify-<job>",
        f"Resource::{sm}:model/{endpoint}-model-*": "Clarify reads the deployed model (<endpoint>-model-<hash>) to "
                                                    "start its shadow endpoint; describe only"})
    acknowledge_grants(runner, resources={
        _s3(naming, f"{MODEL_MONITOR_PREFIX}/{endpoint}"):
            f"Monitoring function: {_PREFIX_REASONS[MODEL_MONITOR_PREFIX]} (copies the baseline, writes configs)",
        _s3(naming, BASELINES_PREFIX): f"Monitoring function: {_PREFIX_REASONS[BASELINES_PREFIX]}",
        f"Resource::{sm}:monitoring-schedule/{endpoint}-*": "This endpoint's schedules, named <endpoint>-<kind>",
        f"Resource::{sm}:processing-job/*": "DescribeProcessingJob only: Model Monitor names its executions' jobs "
                                           "itself; the function reads which endpoint a finished job monitored"})
