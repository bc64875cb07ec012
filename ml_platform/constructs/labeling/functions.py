"""The labeling functions: Ground Truth's pre-annotation and consolidation hooks, and the
active-learning steps, each one `vpc_function` with its own role.

Names: the Ground Truth execution role may invoke exactly these functions (a `grant_invoke` on
each ARN, not the `*SageMaker*`/`*LabelingFunction*` name patterns of AWS's managed policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.foundation.vpc_function import FunctionPlacement, VpcFunction
from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.paths import LAMBDA_ROOT


@dataclass(frozen=True)
class NetworkPlacement:
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup


@dataclass(frozen=True)
class FunctionBase:
    """What every labeling function shares: placement, keys, log settings, where its alarms go."""

    network: NetworkPlacement
    lake_key: kms.IKey
    logs_key: kms.IKey
    log_retention: logs.RetentionDays
    removal_policy: cdk.RemovalPolicy
    alerting: Alerting


class LabelingFunction(Construct):
    """One labeling function (`lambda/<folder>`) in the VPC, with a role of its own."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        folder: str,
        role_name: str,
        description: str,
        environment: dict[str, str],
        base: FunctionBase,
        timeout: cdk.Duration,
        memory_size: int = 256,
        reserved_concurrency: int = 5,
    ) -> None:
        super().__init__(scope, construct_id)
        network, lake_key, logs_key = base.network, base.lake_key, base.logs_key
        log_retention, removal_policy = base.log_retention, base.removal_policy
        self.role = PlatformRole(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        # Ground Truth and Step Functions invoke these synchronously: no dead-letter queue.
        self.vpc_function = VpcFunction(
            self, "Function", asset=LAMBDA_ROOT / folder, role=self.role, description=description,
            environment=environment, placement=FunctionPlacement(network.vpc, network.subnets, network.security_group),
            environment_key=lake_key, logs_key=logs_key, log_retention=log_retention,
            reserved_concurrency=reserved_concurrency, async_failures=None, removal_policy=removal_policy,
            alerting=base.alerting, timeout=timeout, memory_size=memory_size)
        self.function: lambda_.Function = self.vpc_function.function

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """lambda:InvokeFunction on this function only."""
        return self.function.grant_invoke(grantee)

    def grant_prefix(self, bucket_name: str, prefix: str, lake_key: kms.IKey, *, write: bool) -> None:
        """Read (and with `write`, write) objects under one prefix of a lake bucket."""
        actions = ["s3:GetObject", "s3:PutObject"] if write else ["s3:GetObject"]
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=actions, resources=[f"arn:aws:s3:::{bucket_name}/{prefix}*"])
        )
        # Without ListBucket a missing object answers AccessDenied instead of NoSuchKey.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[f"arn:aws:s3:::{bucket_name}"],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )
        lake_key.grant(self.role, "kms:Decrypt", *(["kms:GenerateDataKey"] if write else []))
        self.role.acknowledge_wildcard(
            f"Resource::arn:aws:s3:::{bucket_name}/{prefix}*",
            f"Objects are created per labeling job and run under {prefix} only; their keys are "
            "not known at deploy time",
        )
