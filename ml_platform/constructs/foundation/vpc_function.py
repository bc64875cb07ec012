"""The platform's Lambda function shape, shared by every function that runs in the VPC."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ml_platform import nag
from ml_platform.constructs.foundation.roles import PlatformRole


@dataclass(frozen=True)
class VpcFunctionParts:
    function: lambda_.Function
    dead_letters: sqs.Queue
    log_group: logs.LogGroup


def vpc_function(scope: Construct, *, role: PlatformRole, asset: Path, description: str,
                 environment: dict[str, str], vpc: ec2.IVpc, vpc_subnets: ec2.SubnetSelection,
                 security_group: ec2.ISecurityGroup, dead_letter_key: kms.IKey, logs_key: kms.IKey,
                 log_retention: logs.RetentionDays, reserved_concurrency: int, timeout: cdk.Duration,
                 memory_size: int, removal_policy: cdk.RemovalPolicy) -> VpcFunctionParts:
    """`DeadLetters`, `Logs` and `Function` in `scope`, with the behaviour the nag packs check.

    Behaviour: Python 3.12 handler `handler.handler` from `asset`, in `vpc_subnets` with
    `security_group`; reserved concurrency; X-Ray tracing Active; a KMS-encrypted, TLS-only
    dead-letter queue kept 14 days; a KMS-encrypted log group with `log_retention`. The role is
    the caller's, so CDK adds neither the basic-execution nor the VPC-access managed policy: it
    gets write access to this log group only, and the network-interface actions Lambda needs.
    """
    dead_letters = sqs.Queue(scope, "DeadLetters", encryption=sqs.QueueEncryption.KMS,
                             encryption_master_key=dead_letter_key, enforce_ssl=True,
                             retention_period=cdk.Duration.days(14), removal_policy=removal_policy)
    nag.acknowledge(dead_letters, "AwsSolutions-SQS3",
                    f"This queue is itself the dead-letter queue of a function ({description})")
    log_group = logs.LogGroup(scope, "Logs", encryption_key=logs_key, retention=log_retention,
                              removal_policy=removal_policy)
    function = lambda_.Function(
        scope, "Function", runtime=lambda_.Runtime.PYTHON_3_12, handler="handler.handler",
        code=lambda_.Code.from_asset(str(asset)), role=role, environment=environment,
        timeout=timeout, memory_size=memory_size, reserved_concurrent_executions=reserved_concurrency,
        vpc=vpc, vpc_subnets=vpc_subnets, security_groups=[security_group],
        tracing=lambda_.Tracing.ACTIVE, dead_letter_queue=dead_letters, log_group=log_group,
        description=description)
    log_group.grant_write(role)
    role.add_to_principal_policy(iam.PolicyStatement(
        sid="LambdaVpcNetworkInterfaces",
        actions=["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                 "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
        # Lambda manages the ENIs in the function's subnets on the role's behalf; these actions
        # have no narrower resource form that works (AWSLambdaVPCAccessExecutionRole uses "*").
        resources=["*"]))
    # Lambda checks the role's ENI permissions when the function is created: policy first.
    function.node.add_dependency(role.grants_policy)
    nag.acknowledge(function, "AwsSolutions-L1",
                    "The platform pins the Python 3.12 Lambda runtime for every function (one runtime "
                    "to patch and test); the handler uses only the standard library and boto3")
    return VpcFunctionParts(function=function, dead_letters=dead_letters, log_group=log_group)
