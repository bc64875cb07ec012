"""The Lambda that deploys approved model packages to the endpoint, and the rules that start it."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.foundation.vpc_function import AsyncFailures, FunctionPlacement, VpcFunction
from ml_platform.constructs.serving.endpoint_spec import EndpointSpec
from ml_platform.constructs.training.model_registry import ModelRegistry
from ml_platform.paths import LAMBDA_ROOT

ASSET = LAMBDA_ROOT / "endpoint_deployer"
# The role Application Auto Scaling creates the first time a SageMaker variant is registered.
_SCALING_SLR = "sagemaker.application-autoscaling.amazonaws.com"


class EndpointDeployer(Construct):
    """Creates or updates the endpoint from an approved model package, idempotently.

    Behaviour: Python 3.12 function from `lambda/endpoint_deployer` in the isolated subnets with
    the workload security group; reserved concurrency (deployments of one endpoint never race);
    X-Ray tracing; a KMS-encrypted, TLS-only dead-letter queue for events it could not handle after
    EventBridge's retries; a KMS-encrypted log group. With `approval_rule` an EventBridge rule on
    `SageMaker Model Package State Change` (ModelApprovalStatus Approved, this group) starts it;
    with `scaling_rule` a rule on `SageMaker Endpoint State Change` (IN_SERVICE, this endpoint)
    lets it register the endpoint's autoscaling once the endpoint it created is in service.
    """

    def __init__(self, scope: Construct, construct_id: str, *, spec: EndpointSpec, alarm_names: Sequence[str],
                 registry: ModelRegistry, role_name: str, execution_role: iam.IRole,
                 vpc: ec2.IVpc, vpc_subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup,
                 models_key: kms.IKey, logs_key: kms.IKey, log_retention: logs.RetentionDays,
                 reserved_concurrency: int | None, approval_rule: bool, scaling_rule: bool,
                 removal_policy: cdk.RemovalPolicy, multi_model_prefix: str | None = None,
                 model_source_prefix: str | None = None) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.spec = spec
        self.registry = registry
        self.model_package_group_name = model_package_group_name = registry.group_name
        self.role = PlatformRole(self, "Role", role_name=role_name,
                                 assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                                 description="Deploys approved model packages to the SageMaker endpoint")
        scaling = spec.scaling_document()
        environment = {
            "ENDPOINT_SPEC": stack.to_json_string(spec.api_document(list(alarm_names))),
            "SCALING_SPEC": stack.to_json_string(scaling) if scaling else "",
            "MODEL_PACKAGE_GROUP": model_package_group_name,
            "EXECUTION_ROLE_ARN": execution_role.role_arn,
            "SUBNET_IDS": ",".join(vpc.select_subnets(**_selection(vpc_subnets)).subnet_ids) if spec.in_vpc else "",
            "SECURITY_GROUP_IDS": security_group.security_group_id if spec.in_vpc else "",
            "MULTI_MODEL_PREFIX": multi_model_prefix or "",
            "MULTI_MODEL_KMS_KEY_ID": models_key.key_arn if multi_model_prefix else "",
        }
        stack = cdk.Stack.of(self)
        # Before the function: its "*" finding is acknowledged with the deployer's full reason.
        _acknowledge(self.role, region=stack.region, account=stack.account, endpoint_name=spec.endpoint_name)
        # EventBridge invokes asynchronously: events that fail every retry land in the DLQ.
        self.handler = VpcFunction(
            self, "Handler", asset=ASSET, role=self.role, environment=environment,
            description="Deploys approved model packages to the SageMaker endpoint",
            placement=FunctionPlacement(vpc=vpc, subnets=vpc_subnets, security_group=security_group),
            environment_key=models_key, logs_key=logs_key, log_retention=log_retention,
            reserved_concurrency=reserved_concurrency, async_failures=AsyncFailures(key=models_key),
            removal_policy=removal_policy, timeout=cdk.Duration.minutes(2), memory_size=256)
        self.function, self.dead_letters = self.handler.function, self.handler.dead_letter_queue
        self._grant(spec, execution_role, models_key)
        if multi_model_prefix:
            if not model_source_prefix:
                raise ValueError("multi_model_prefix needs model_source_prefix (where approved archives live)")
            self._grant_archive_staging(model_source_prefix, multi_model_prefix, models_key)
        self.approval_rule = self._approval_rule() if approval_rule else None
        self.scaling_rule = self._scaling_rule() if scaling_rule and scaling else None

    def _target(self) -> targets.LambdaFunction:
        # EventBridge invokes asynchronously: Lambda retries a failed handler and then sends the
        # event to the function's dead-letter queue. (A rule-level DLQ would need EventBridge in the
        # models key policy, which admits platform roles only.)
        return targets.LambdaFunction(self.function, retry_attempts=2, max_event_age=cdk.Duration.hours(2))

    def _approval_rule(self) -> events.Rule:
        rule = events.Rule(self, "OnModelApproved", description="Deploy approved model packages to the endpoint",
                           event_pattern=events.EventPattern(
                               source=["aws.sagemaker"], detail_type=["SageMaker Model Package State Change"],
                               detail={"ModelPackageGroupName": [self.model_package_group_name],
                                       "ModelApprovalStatus": ["Approved"]}))
        rule.add_target(self._target())
        return rule

    def _scaling_rule(self) -> events.Rule:
        rule = events.Rule(self, "OnEndpointInService", description="Register the endpoint's autoscaling",
                           event_pattern=events.EventPattern(
                               source=["aws.sagemaker"], detail_type=["SageMaker Endpoint State Change"],
                               detail={"EndpointName": [self.spec.endpoint_name], "EndpointStatus": ["IN_SERVICE"]}))
        rule.add_target(self._target())
        return rule

    def _grant_archive_staging(self, source_prefix: str, target_prefix: str, models_key: kms.IKey) -> None:
        """Read approved archives under `source_prefix`, write only under `target_prefix` (s3:// URLs)."""
        source_bucket, source_key = _bucket_and_key(source_prefix)
        bucket, key = _bucket_and_key(target_prefix)
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="ReadApprovedArchives", actions=["s3:GetObject"],
            resources=[f"arn:aws:s3:::{source_bucket}/{source_key}*"]))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="StageMultiModelArchives", actions=["s3:GetObject", "s3:PutObject"],
            resources=[f"arn:aws:s3:::{bucket}/{key}*"]))
        # Without ListBucket a missing archive answers 403, not 404; only the multi-model prefix.
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="ListMultiModelPrefix", actions=["s3:ListBucket"], resources=[f"arn:aws:s3:::{bucket}"],
            conditions={"StringLike": {"s3:prefix": [f"{key}*"]}}))
        models_key.grant(self.role, "kms:Decrypt", "kms:GenerateDataKey")
        for prefix in (f"{source_bucket}/{source_key}", f"{bucket}/{key}"):
            self.role.acknowledge_wildcard(f"Resource::arn:aws:s3:::{prefix}*",
                            "Objects under one prefix: approved archives read from the pipelines' output, "
                            "copies written to the multi-model endpoint's prefix only")

    def _grant(self, spec: EndpointSpec, execution_role: iam.IRole, models_key: kms.IKey) -> None:
        stack, name = cdk.Stack.of(self), spec.endpoint_name
        def arn(resource: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        self.registry.grant_read(self.role)
        # ListModelPackages has no resource-level permissions (Service Authorization Reference): "*".
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="FindLatestApprovedPackage", actions=["sagemaker:ListModelPackages"], resources=["*"]))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="DeployThisEndpointOnly",
            actions=["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateEndpointConfig",
                     "sagemaker:DescribeEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint",
                     "sagemaker:DescribeEndpoint", "sagemaker:AddTags"],
            resources=[arn("model") + "-*", arn("endpoint-config") + "-*", arn("endpoint")]))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="PassModelRoleToSageMakerOnly", actions=["iam:PassRole"], resources=[execution_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))
        models_key.grant(self.role, "kms:CreateGrant", "kms:DescribeKey")
        # Scalable targets and policies have no ARNs before they exist; the actions are limited to
        # the sagemaker namespace's API and this endpoint's alarms below.
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="RegisterEndpointAutoscaling",
            actions=["application-autoscaling:RegisterScalableTarget", "application-autoscaling:PutScalingPolicy",
                     "application-autoscaling:PutScheduledAction",
                     "application-autoscaling:DescribeScalableTargets"], resources=["*"]))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="AutoscalingAlarmsOfThisEndpoint",
            actions=["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
            resources=[stack.format_arn(service="cloudwatch", resource="alarm", resource_name=n,
                                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
                       for n in (f"TargetTracking-endpoint/{name}/*", f"{name}-*")]))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="ScaleThisEndpoint", actions=["sagemaker:UpdateEndpointWeightsAndCapacities"],
            resources=[arn("endpoint")]))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="AutoscalingServiceLinkedRole", actions=["iam:CreateServiceLinkedRole"],
            resources=[f"arn:{stack.partition}:iam::{stack.account}:role/aws-service-role/{_SCALING_SLR}/*"],
            conditions={"StringLike": {"iam:AWSServiceName": _SCALING_SLR}}))


def _bucket_and_key(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def _selection(selection: ec2.SubnetSelection) -> dict[str, Any]:
    return {"subnet_type": selection.subnet_type} if selection.subnet_type else {}


def _acknowledge(role: PlatformRole, *, region: str, account: str, endpoint_name: str) -> None:
    """The deployer's scoped wildcards: every one is limited to this endpoint's or group's names."""
    sm = f"arn:aws:sagemaker:{region}:{account}"
    reasons = {
        "Resource::*": "ListModelPackages, the Application Auto Scaling Register/Put actions, X-Ray trace "
                       "upload and Lambda's VPC network interfaces have no resource-level permissions",
        f"Resource::{sm}:model/{endpoint_name}-*": "Models the deployer names <endpoint>-model-<content hash>",
        f"Resource::{sm}:endpoint-config/{endpoint_name}-*":
            "Endpoint configurations the deployer names <endpoint>-config-<content hash>",
        f"Resource::arn:aws:cloudwatch:{region}:{account}:alarm:TargetTracking-endpoint/{endpoint_name}/*":
            "Alarms Application Auto Scaling creates for this endpoint's target-tracking policy",
        f"Resource::arn:aws:cloudwatch:{region}:{account}:alarm:{endpoint_name}-*":
            "The backlog step-scaling alarm the deployer names after this endpoint",
        f"Resource::arn:aws:iam::{account}:role/aws-service-role/{_SCALING_SLR}/*":
            "Only the Application Auto Scaling service-linked role for SageMaker, conditioned on its service",
    }
    for detail, reason in reasons.items():
        role.acknowledge_wildcard(detail, reason)
