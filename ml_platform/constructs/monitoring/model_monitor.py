"""The Model Monitor engine: data-quality, model-quality, bias-drift and feature-attribution-drift
job definitions, the role they run as, and the schedules the monitoring function keeps pointed
at each deployed model.

Job definitions are create-only (every property replaces the resource), so each is named from a
hash of its content: a changed definition is a new name, and CloudFormation creates the new one
before deleting the old. They read the baseline from `<baseline prefix>/<endpoint>/current/`,
which the monitoring function fills from the deployed model package when the endpoint comes
InService, and it then creates or updates the schedules (a schedule cannot exist before its
endpoint does, and on a first deploy no endpoint exists yet: see runner_schedules.py).

Network: the data- and model-quality analyzer only reads its inputs and writes its report, so it
runs network-isolated. Clarify (bias, feature attribution) cannot: it computes by calling the
model, starting a shadow endpoint from the deployed model and invoking it through the SageMaker
API and runtime, so its jobs keep network access, but only inside the isolated subnets (VPC
endpoints, no internet route), and its role may manage only `sm-clarify-*` endpoints of this
endpoint's models.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform.config_sections.monitoring import MonitoringConfig
from ml_platform.constants import CAPTURE_PREFIX
from ml_platform.constructs.data.lake import grant_prefix_read, grant_prefix_read_write
from ml_platform.constructs.foundation.network_interfaces import EniPlacement
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.monitoring import clarify_config
from ml_platform.constructs.monitoring.images import clarify_image_uri, model_monitor_image_uri, repository_arns
from ml_platform.constructs.monitoring.our_monitor import LABELS_PREFIX, PREFIX_REASONS, Placement
from ml_platform.constructs.training.job_roles import SageMakerJobRole

MODEL_MONITOR_PREFIX = "monitoring/model-monitor"
_KINDS = {"DataQuality": "dq", "ModelQuality": "mq", "ModelBias": "bias", "ModelExplainability": "explain"}


@dataclass(frozen=True)
class EngineInputs:
    endpoint: str
    monitoring: MonitoringConfig
    artifacts: s3.IBucket
    models_key: kms.IKey
    placement: Placement


class ModelMonitorEngine(Construct):
    """Job definitions for one endpoint and the settings the monitoring function needs.

    `self.watched` is the function's `MODEL_MONITOR` entry for the endpoint: the current-baseline
    prefix, the Clarify configurations to write, and each schedule's name, definition and cron.
    """

    def __init__(self, scope: Construct, construct_id: str, *, role_name: str, name_prefix: str,
                 inputs: EngineInputs) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.inputs, self.name_prefix = inputs, name_prefix
        m, bucket = inputs.monitoring, inputs.artifacts.bucket_name
        self.root = f"s3://{bucket}/{MODEL_MONITOR_PREFIX}/{inputs.endpoint}"
        self.role = SageMakerJobRole(self, "JobRole", role_name=role_name, region=stack.region,
                                     account=stack.account, log_groups=["ProcessingJobs"],
                                     placement=EniPlacement(subnet_ids=inputs.placement.subnet_ids,
                                                            security_group_ids=(inputs.placement.security_group_id,)),
                                     description="SageMaker Model Monitor and Clarify monitoring jobs")
        self._grant_job_role(stack)
        clarify_configs = {
            "ModelBias": clarify_config.bias_config(m.clarify, m.problem_type, m.instance_type),
            "ModelExplainability": clarify_config.explainability_config(m.clarify, m.instance_type)}
        self.definitions: dict[str, cdk.CfnResource] = {}
        for kind in ("DataQuality", "ModelQuality", *[k for k, c in clarify_configs.items() if c is not None]):
            self.definitions[kind] = self._definition(kind, stack)
        self.watched = {
            "baseline": f"{self.root}/current",
            "clarify": {self._config_uri(k): c for k, c in clarify_configs.items() if c is not None},
            "schedules": [{"name": f"{inputs.endpoint}-{_KINDS[kind]}", "type": kind, "cron": m.schedule,
                           "definition": d.get_att("JobDefinitionName").to_string()}
                          for kind, d in self.definitions.items()]}

    def _config_uri(self, kind: str) -> str:
        return f"{self.root}/clarify/{_KINDS[kind]}-analysis.json"

    def _definition(self, kind: str, stack: cdk.Stack) -> cdk.CfnResource:
        i, m = self.inputs, self.inputs.monitoring
        clarify = kind in ("ModelBias", "ModelExplainability")
        window = m.window_hours
        endpoint_input: dict[str, Any] = {"EndpointName": i.endpoint, "LocalPath": "/opt/ml/processing/input/endpoint",
                                "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}
        if kind in ("ModelQuality", "ModelBias"):
            # Captures old enough to have labels: the window, `label_lookback_hours` ago.
            endpoint_input.update(StartTimeOffset=f"-PT{window + m.label_lookback_hours}H",
                                  EndTimeOffset=f"-PT{m.label_lookback_hours}H")
        if kind in ("ModelQuality", "ModelBias") and m.problem_type == "BinaryClassification":
            endpoint_input.update(ProbabilityAttribute="0", ProbabilityThresholdAttribute=0.5)
        elif kind == "ModelQuality":
            endpoint_input["InferenceAttribute"] = "0"
        prefix = _KINDS[kind]
        props: dict[str, Any] = {
            f"{kind}AppSpecification": self._app(kind, stack.region),
            f"{kind}JobInput": {"EndpointInput": endpoint_input, **({"GroundTruthS3Input": {
                "S3Uri": f"s3://{i.artifacts.bucket_name}/{LABELS_PREFIX}/{i.endpoint}"}}
                if kind in ("ModelQuality", "ModelBias") else {})},
            f"{kind}JobOutputConfig": {"KmsKeyId": i.models_key.key_arn, "MonitoringOutputs": [{"S3Output": {
                "LocalPath": "/opt/ml/processing/output", "S3Uri": f"{self.root}/{prefix}",
                "S3UploadMode": "EndOfJob"}}]},
            "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": m.instance_type,
                                               "VolumeSizeInGB": m.volume_size_gb,
                                               "VolumeKmsKeyId": i.models_key.key_arn}},
            "NetworkConfig": {"EnableNetworkIsolation": not clarify, "EnableInterContainerTrafficEncryption": True,
                              "VpcConfig": {"SecurityGroupIds": [i.placement.security_group_id],
                                            "Subnets": i.placement.subnet_ids}},
            "RoleArn": self.role.role_arn, "StoppingCondition": {"MaxRuntimeInSeconds": m.max_runtime_seconds},
            "EndpointName": i.endpoint}
        baseline = self._baseline(kind)
        if baseline:
            props[f"{kind}BaselineConfig"] = baseline
        digest = hashlib.sha256(json.dumps(stack.resolve(props), sort_keys=True).encode()).hexdigest()[:10]
        props["JobDefinitionName"] = f"{self.name_prefix}-{prefix}-{digest}"
        return cdk.CfnResource(self, f"{kind}JobDefinition", type=f"AWS::SageMaker::{kind}JobDefinition",
                               properties=props)

    def _app(self, kind: str, region: str) -> dict[str, Any]:
        if kind == "DataQuality":
            return {"ImageUri": model_monitor_image_uri(region), "Environment": {"publish_cloudwatch_metrics": "Enabled"}}
        if kind == "ModelQuality":
            return {"ImageUri": model_monitor_image_uri(region), "ProblemType": self.inputs.monitoring.problem_type}
        return {"ImageUri": clarify_image_uri(region), "ConfigUri": self._config_uri(kind)}

    def _baseline(self, kind: str) -> dict[str, Any] | None:
        current = f"{self.root}/current"
        if kind == "DataQuality":
            return {"ConstraintsResource": {"S3Uri": f"{current}/constraints.json"},
                    "StatisticsResource": {"S3Uri": f"{current}/statistics.json"}}
        if kind == "ModelQuality":
            return {"ConstraintsResource": {"S3Uri": f"{current}/model_quality_constraints.json"}}
        return None

    def _grant_job_role(self, stack: cdk.Stack) -> None:
        i = self.inputs
        grant_prefix_read(i.artifacts, self.role, f"{CAPTURE_PREFIX}/{i.endpoint}/",
                          f"Model Monitor: {PREFIX_REASONS[CAPTURE_PREFIX]}")
        grant_prefix_read(i.artifacts, self.role, f"{LABELS_PREFIX}/{i.endpoint}/",
                          f"Model Monitor: {PREFIX_REASONS[LABELS_PREFIX]}")
        grant_prefix_read_write(i.artifacts, self.role, f"{MODEL_MONITOR_PREFIX}/{i.endpoint}/",
                                "Model Monitor: this endpoint's current baseline, Clarify configurations and reports")
        i.models_key.grant(self.role, "kms:CreateGrant", "kms:DescribeKey")
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="PullMonitorImages", resources=repository_arns(stack.region),
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]))
        def arn(kind: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=kind, resource_name=name)

        # Clarify's shadow endpoint: created from the deployed model, invoked, then deleted.
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="ClarifyShadowEndpoint", actions=[
                "sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint",
                "sagemaker:DescribeEndpointConfig", "sagemaker:InvokeEndpoint", "sagemaker:DeleteEndpoint",
                "sagemaker:DeleteEndpointConfig", "sagemaker:AddTags"],
            resources=[arn("endpoint", "sm-clarify-*"), arn("endpoint-config", "sm-clarify-*")]))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadDeployedModel", actions=["sagemaker:DescribeModel"],
            resources=[arn("model", f"{i.endpoint}-model-*")]))
        sm = f"arn:aws:sagemaker:{stack.region}:{stack.account}"
        for resource, reason in {
                f"{sm}:endpoint/sm-clarify-*": "Clarify names its shadow endpoints sm-clarify-<job>: it creates, "
                                               "invokes and deletes only those",
                f"{sm}:endpoint-config/sm-clarify-*": "Clarify's shadow endpoint configurations, sm-clarify-<job>",
                f"{sm}:model/{i.endpoint}-model-*": "Clarify reads the deployed model (<endpoint>-model-<hash>) to "
                                                    "start its shadow endpoint; describe only"}.items():
            self.role.acknowledge_wildcard(f"Resource::{resource}", reason)

    def grant_runner(self, role: PlatformRole, baselines_read: str) -> None:
        """Copy baselines to the current prefix, write Clarify configurations, manage the schedules."""
        stack, i = cdk.Stack.of(self), self.inputs
        def arn(kind: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=kind, resource_name=name)

        role.add_to_principal_policy(iam.PolicyStatement(
            sid=f"ModelMonitorSchedules{_sid(i.endpoint)}", actions=[
                "sagemaker:DescribeMonitoringSchedule", "sagemaker:CreateMonitoringSchedule",
                "sagemaker:UpdateMonitoringSchedule", "sagemaker:AddTags"],
            resources=[arn("monitoring-schedule", f"{i.endpoint}-*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid=f"CurrentBaselineClarifyConfigsReports{_sid(i.endpoint)}", actions=["s3:PutObject", "s3:GetObject"],
            resources=[i.artifacts.arn_for_objects(f"{MODEL_MONITOR_PREFIX}/{i.endpoint}/*")]))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid=f"ReadRegisteredBaselines{_sid(i.endpoint)}", actions=["s3:GetObject"],
            resources=[i.artifacts.arn_for_objects(f"{baselines_read}/*")]))
        # A baseline file or metrics file that is not there must answer NoSuchKey (the function
        # skips optional baseline files and reads Model Monitor's reports), not AccessDenied.
        role.add_to_principal_policy(iam.PolicyStatement(
            sid=f"ListBaselinesAndReports{_sid(i.endpoint)}", actions=["s3:ListBucket"],
            resources=[i.artifacts.bucket_arn], conditions={"StringLike": {
                "s3:prefix": [f"{baselines_read}/*", f"{MODEL_MONITOR_PREFIX}/{i.endpoint}/*"]}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            sid=f"ReadModelMonitorReports{_sid(i.endpoint)}", actions=["sagemaker:DescribeProcessingJob"],
            resources=[arn("processing-job", "*")]))
        sm, bucket = f"arn:aws:sagemaker:{stack.region}:{stack.account}", i.artifacts.bucket_name
        for resource, reason in {
                f"arn:aws:s3:::{bucket}/{MODEL_MONITOR_PREFIX}/{i.endpoint}/*":
                "Monitoring function: this endpoint's Model Monitor prefix (copies the baseline, writes the Clarify "
                "configurations, reads the reports)",
                f"arn:aws:s3:::{bucket}/{baselines_read}/*": "Monitoring function: baselines the training pipeline "
                                                             "wrote per execution, read-only",
                f"{sm}:monitoring-schedule/{i.endpoint}-*": "This endpoint's schedules, named <endpoint>-<kind>",
                f"{sm}:processing-job/*": "DescribeProcessingJob only: Model Monitor names its executions' jobs "
                                          "itself; the function reads which endpoint a finished job monitored"}.items():
            role.acknowledge_wildcard(f"Resource::{resource}", reason)


def _sid(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
