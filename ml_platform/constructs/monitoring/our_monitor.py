"""Our engine: the monitoring job's role and request settings, and what the function may do to
start it. The job is a Processing job running `training_code/monitor.py` from the code bundle."""
from __future__ import annotations

import json
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform.config_sections.monitoring import MonitoringConfig
from ml_platform.constants import CAPTURE_PREFIX, PIPELINES_PREFIX
from ml_platform.constructs.data.lake import grant_prefix_read, grant_prefix_read_write
from ml_platform.constructs.foundation.keys import volume_key_grants_statement
from ml_platform.constructs.foundation.network_interfaces import EniPlacement
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.training.code_bundle import CodeBundle
from ml_platform.constructs.training.job_roles import SageMakerJobRole

NAMESPACE = "MLPlatform/ModelMonitoring"
LABELS_PREFIX, REPORTS_PREFIX, BASELINES_PREFIX = "monitoring/ground-truth", "monitoring/reports", PIPELINES_PREFIX


PREFIX_REASONS = {
    CAPTURE_PREFIX: "the endpoint's data capture (objects named by SageMaker per hour and request batch), read-only",
    LABELS_PREFIX: "ground-truth files the label owners upload per endpoint and hour, read-only",
    BASELINES_PREFIX: "baselines the training pipeline wrote per execution, read-only",
    REPORTS_PREFIX: "the monitoring runs' reports and manifests, one folder per run",
}


@dataclass(frozen=True)
class Placement:
    subnet_ids: list[str]
    security_group_id: str


def monitor_arguments(m: MonitoringConfig) -> list[str]:
    """monitor.py's thresholds and problem type (the window comes from the function)."""
    return ["--problem-type", m.problem_type, "--comparison-threshold", str(m.comparison_threshold),
            "--categorical-threshold", str(m.categorical_threshold), "--datatype-threshold", str(m.datatype_threshold),
            "--range-threshold", str(m.range_threshold), "--prediction-threshold", str(m.prediction_drift_threshold),
            "--comparison-method", m.comparison_method]


class OurMonitor(Construct):
    """The monitoring job role and the function's settings for our engine.

    Behaviour: the job runs network-isolated in the isolated subnets with the workload security
    group, inter-container encryption, the models key on its volume and its outputs, on
    `monitoring.instance_type`. Its role may read the code bundle, the capture, ground-truth and
    baseline prefixes and the run's manifests, and write only under the reports prefix.
    """

    def __init__(self, scope: Construct, construct_id: str, *, role_name: str, job_prefix: str,
                 monitoring: MonitoringConfig, code: CodeBundle, image_uri: str, artifacts: s3.IBucket,
                 models_key: kms.IKey, placement: Placement) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.job_prefix, self.artifacts, self.models_key = job_prefix, artifacts, models_key
        self.job_role = SageMakerJobRole(self, "JobRole", role_name=role_name, region=stack.region,
                                         account=stack.account, log_groups=["ProcessingJobs"],
                                         placement=EniPlacement(subnet_ids=placement.subnet_ids,
                                                                security_group_ids=(placement.security_group_id,)),
                                         description="Our model-monitoring processing jobs")
        for prefix in (CAPTURE_PREFIX, LABELS_PREFIX, BASELINES_PREFIX):
            grant_prefix_read(artifacts, self.job_role, f"{prefix}/", f"Monitoring job: {PREFIX_REASONS[prefix]}")
        grant_prefix_read_write(artifacts, self.job_role, f"{REPORTS_PREFIX}/",
                                f"Monitoring job: {PREFIX_REASONS[REPORTS_PREFIX]}")
        code.grant_read(self.job_role)
        # SageMaker creates a grant on the volume key for the job's instance (issue 9, defect 2).
        models_key.grant(self.job_role, "kms:CreateGrant", "kms:DescribeKey")
        bucket = f"s3://{artifacts.bucket_name}"
        self.environment = {
            "JOB_PREFIX": job_prefix, "ROLE_ARN": self.job_role.role_arn, "IMAGE_URI": image_uri,
            "CODE_URI": code.s3_uri, "INSTANCE_TYPE": monitoring.instance_type,
            "VOLUME_SIZE_GB": str(monitoring.volume_size_gb), "MAX_RUNTIME_S": str(monitoring.max_runtime_seconds),
            "KMS_KEY_ARN": models_key.key_arn, "SUBNET_IDS": ",".join(placement.subnet_ids),
            "SECURITY_GROUP_IDS": placement.security_group_id, "CAPTURE_S3_URI": f"{bucket}/{CAPTURE_PREFIX}",
            "LABELS_S3_URI": f"{bucket}/{LABELS_PREFIX}", "REPORTS_S3_URI": f"{bucket}/{REPORTS_PREFIX}",
            "WINDOW_HOURS": str(monitoring.window_hours), "LABEL_LOOKBACK_HOURS": str(monitoring.label_lookback_hours),
            "MONITOR_ARGUMENTS": json.dumps(monitor_arguments(monitoring)), "METRICS_NAMESPACE": NAMESPACE}

    def grant_runner(self, role: PlatformRole, endpoints: list[str], *, package_group: str) -> None:
        """What the function needs: find each endpoint's deployed baseline, list capture and labels,
        write manifests, start (only) our jobs as the job role, read their outputs, publish metrics."""
        for statement in self._runner_statements(endpoints, package_group):
            role.add_to_principal_policy(statement)
        self.models_key.grant(role, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        # CreateProcessingJob with a VolumeKmsKeyId: SageMaker creates a grant in the caller's name.
        role.add_to_principal_policy(volume_key_grants_statement(self.models_key.key_arn, sid="JobVolumeKeyGrants"))
        self._acknowledge_runner_wildcards(role, endpoints, package_group)

    def _runner_statements(self, endpoints: list[str], package_group: str) -> list[iam.PolicyStatement]:
        """The function's SageMaker, S3 and CloudWatch statements, each scoped to our names and prefixes."""
        stack = cdk.Stack.of(self)
        def arn(kind: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=kind, resource_name=name)

        return [
            iam.PolicyStatement(sid="FindDeployedBaseline", actions=[
                "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel",
                "sagemaker:ListTags", "sagemaker:DescribeModelPackage"], resources=[
                # The deployer names configs and models `<endpoint>-config-<hash>`, `<endpoint>-model-<hash>`.
                *[arn("endpoint", e) for e in endpoints], *[arn("endpoint-config", f"{e}-config-*") for e in endpoints],
                *[arn("model", f"{e}-model-*") for e in endpoints], arn("model-package", f"{package_group}/*")]),
            iam.PolicyStatement(sid="StartOurMonitoringJobs", actions=[
                "sagemaker:CreateProcessingJob", "sagemaker:AddTags", "sagemaker:DescribeProcessingJob"],
                resources=[arn("processing-job", f"{self.job_prefix}-*")]),
            iam.PolicyStatement(sid="PassJobRoleToSageMakerOnly", actions=["iam:PassRole"],
                                resources=[self.job_role.role_arn],
                                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}),
            # Reports too: reading a job's metrics file that is not there must answer NoSuchKey
            # (a Model Monitor execution writes none), not AccessDenied.
            iam.PolicyStatement(sid="ListCaptureAndLabels", actions=["s3:ListBucket"],
                                resources=[self.artifacts.bucket_arn], conditions={"StringLike": {
                                    "s3:prefix": [f"{CAPTURE_PREFIX}/*", f"{LABELS_PREFIX}/*",
                                                  f"{REPORTS_PREFIX}/*"]}}),
            iam.PolicyStatement(sid="ManifestsAndReports", actions=["s3:PutObject", "s3:GetObject"],
                                resources=[self.artifacts.arn_for_objects(f"{REPORTS_PREFIX}/*")]),
            # PutMetricData has no resource-level permissions; the namespace condition scopes it.
            iam.PolicyStatement(sid="PublishMonitoringMetrics", actions=["cloudwatch:PutMetricData"],
                                resources=["*"], conditions={"StringEquals": {"cloudwatch:namespace": NAMESPACE}}),
        ]

    def _acknowledge_runner_wildcards(self, role: PlatformRole, endpoints: list[str], package_group: str) -> None:
        """Each wildcard of the runner's statements, with what the names under it are."""
        stack = cdk.Stack.of(self)
        sm = f"arn:aws:sagemaker:{stack.region}:{stack.account}"
        reasons = {f"arn:aws:s3:::{self.artifacts.bucket_name}/{REPORTS_PREFIX}/*":
                   f"Monitoring function: {PREFIX_REASONS[REPORTS_PREFIX]} (writes manifests, reads metrics files)",
                   f"{sm}:model-package/{package_group}/*":
                   "Versions of this environment's model package group; DescribeModelPackage only",
                   f"{sm}:processing-job/{self.job_prefix}-*":
                   "Our monitoring jobs are named <prefix>-monitor-<window end>; create, tag and describe only"}
        for e in endpoints:
            reasons[f"{sm}:endpoint-config/{e}-config-*"] = ("The deployer names endpoint configurations "
                                                             "<endpoint>-config-<content hash>; describe only")
            reasons[f"{sm}:model/{e}-model-*"] = ("The deployer names models <endpoint>-model-<content hash>; "
                                                  "describe and list tags only")
        for resource, reason in reasons.items():
            role.acknowledge_wildcard(f"Resource::{resource}", reason)
