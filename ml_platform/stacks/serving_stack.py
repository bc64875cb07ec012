"""Serving stack: the endpoint's roles, rollback alarms, deployer, and (when pinned) the endpoint itself.

The first model: CloudFormation cannot create an endpoint without a model, and on a first run the
model registry is empty. So this stack creates the model, endpoint configuration and endpoint
only when configuration pins one (`endpoint.initial_model_package_arn`, or `initial_model_data_url`
with `image_uri`). Otherwise it creates the deployer, its rules, roles and alarms, and the
deployer creates (then updates) the endpoint at runtime when a model package is approved; a
first run with an empty registry therefore deploys and fails nothing.

Promotion: dev and staging deploy on approval (`auto_deploy_on_approval`). Prod has no approval
rule: the CI/CD pipeline promotes after its manual approval, by invoking the deployer with the
approved package ARN (or by pinning `initial_model_package_arn` in config/prod.yaml).

Front door (`endpoint.api_gateway`, staging and prod): an IAM-authorized REST API whose thin proxy
Lambda calls InvokeEndpoint through the VPC's SageMaker runtime endpoint; `endpoint.api_waf` (prod)
adds a WAFv2 web ACL on its stage. Multi-model endpoints (`endpoint.multi_model`): the deployer
copies each approved archive to `multi-model/<group>-v<version>.tar.gz` before the endpoint step.
"""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constants import PIPELINES_PREFIX, RolePurpose
from ml_platform.constructs.foundation.network_interfaces import EniPlacement
from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.constructs.serving.endpoint import ModelEndpoint, RollbackAlarms
from ml_platform.constructs.serving.endpoint_api import EndpointApi
from ml_platform.constructs.serving.endpoint_deployer import EndpointDeployer
from ml_platform.constructs.serving.endpoint_outputs import (
    MULTI_MODEL_PREFIX,
    OUTPUT_PREFIXES,
    AsyncResultTopics,
    endpoint_spec,
)
from ml_platform.constructs.serving.model_promotion import ModelPromotionAccess
from ml_platform.constructs.serving.model_role import ModelExecutionRole
from ml_platform.constructs.training.model_registry import ModelRegistry
from ml_platform.naming import Naming
from ml_platform.retention import retention
from ml_platform.stacks.base import PlatformStack


class ServingStack(PlatformStack):
    """`<Env>/Serving`: everything that puts approved models behind an endpoint (and, optionally, an API)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, naming: Naming,
                 vpc: ec2.IVpc, vpc_subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup,
                 artifacts: s3.IBucket, models_key: kms.IKey, logs_key: kms.IKey,
                 registry: ModelRegistry, removal_policy: cdk.RemovalPolicy,
                 alerting: Alerting, promoter_arn: str | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        endpoint = config.endpoint
        # The artifacts bucket is named by its stable physical name (Naming) instead of a cross-stack
        # export, so templates and IAM findings show a name a reviewer can read; the explicit
        # dependency keeps the deployment order the export would have given.
        self.add_stack_dependency(cdk.Stack.of(artifacts))
        artifacts = s3.Bucket.from_bucket_attributes(
            self, "Artifacts", bucket_name=naming.bucket_name("artifacts"), encryption_key=models_key)
        bucket_uri = f"s3://{artifacts.bucket_name}"
        self.async_topics = AsyncResultTopics.for_endpoint(self, config=endpoint, name_prefix=naming.prefix,
                                                           key=models_key)
        self.spec = endpoint_spec(config=endpoint, endpoint_name=naming.resource_name("endpoint"),
                                  kms_key_arn=models_key.key_arn, bucket_uri=bucket_uri, topics=self.async_topics)
        self.model_role = ModelExecutionRole(
            self, "ModelRole", role_name=naming.role_name(RolePurpose.SAGEMAKER_MODEL), name_prefix=naming.prefix,
            artifacts=artifacts, output_prefixes=list(OUTPUT_PREFIXES),
            topics=self.async_topics.topics if self.async_topics else [],
            placement=EniPlacement.of(vpc, vpc_subnets, security_group)).role
        self.alarms = RollbackAlarms(self, "RollbackAlarms", spec=self.spec, alerting=alerting)
        self.endpoint = None
        if endpoint.has_initial_model:
            self.endpoint = ModelEndpoint(
                self, "Endpoint", spec=self.spec, alarm_names=self.alarms.alarm_names,
                execution_role=self.model_role, vpc_subnets=vpc.select_subnets(
                    subnet_type=vpc_subnets.subnet_type).subnets,
                security_group=security_group, model_package_arn=endpoint.initial_model_package_arn,
                model_data_url=endpoint.initial_model_data_url, image_uri=endpoint.image_uri)
        self.deployer = EndpointDeployer(
            self, "Deployer", spec=self.spec, alarm_names=self.alarms.alarm_names,
            registry=registry, role_name=naming.role_name(RolePurpose.ENDPOINT_DEPLOYER),
            execution_role=self.model_role, vpc=vpc, vpc_subnets=vpc_subnets, security_group=security_group,
            models_key=models_key, logs_key=logs_key, log_retention=retention(config.log_retention_days),
            reserved_concurrency=endpoint.deployer_reserved_concurrency,
            approval_rule=endpoint.auto_deploy_on_approval and config.environment != "prod",
            scaling_rule=not endpoint.has_initial_model, removal_policy=removal_policy, alerting=alerting,
            multi_model_prefix=f"{bucket_uri}/{MULTI_MODEL_PREFIX}/" if endpoint.multi_model else None,
            model_source_prefix=f"{bucket_uri}/{PIPELINES_PREFIX}/")
        self._promotion_and_api(config, naming, promoter_arn, vpc, vpc_subnets, security_group, models_key,
                                logs_key, removal_policy, alerting)

    def _promotion_and_api(self, config: PlatformConfig, naming: Naming, promoter_arn: str | None, vpc: ec2.IVpc,
                           vpc_subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup,
                           models_key: kms.IKey, logs_key: kms.IKey, removal_policy: cdk.RemovalPolicy,
                           alerting: Alerting) -> None:
        """The delivery pipeline's model-promotion role (prod) and the IAM-authorized API front door."""
        endpoint = config.endpoint
        self.promotion: ModelPromotionAccess | None = None
        if promoter_arn:
            self.promotion = ModelPromotionAccess(
                self, "Promotion", role_name=naming.role_name(RolePurpose.MODEL_PROMOTION), promoter_arn=promoter_arn,
                deployer=self.deployer.function, endpoint_name=self.spec.endpoint_name)
        self.api: EndpointApi | None = None
        if endpoint.api_gateway:
            self.api = EndpointApi(
                self, "Api", endpoint_name=self.spec.endpoint_name, proxy_role_name=naming.role_name(RolePurpose.ENDPOINT_PROXY),
                cloudwatch_role_name=naming.role_name(RolePurpose.APIGATEWAY_CLOUDWATCH), vpc=vpc, vpc_subnets=vpc_subnets,
                security_group=security_group, dead_letter_key=models_key, logs_key=logs_key,
                log_retention=retention(config.log_retention_days),
                reserved_concurrency=endpoint.api_proxy_reserved_concurrency,
                throttle_rate=endpoint.api_throttle_rate_per_second, throttle_burst=endpoint.api_throttle_burst,
                waf_rate_limit=endpoint.api_waf_rate_limit if endpoint.api_waf else None,
                removal_policy=removal_policy, alerting=alerting)
