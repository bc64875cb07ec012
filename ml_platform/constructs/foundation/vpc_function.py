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
    dead_letters: sqs.Queue | None  # None for a function that is only invoked synchronously
    log_group: logs.LogGroup


def asynchronous_dead_letters(scope: Construct, *, key: kms.IKey, role: iam.IGrantable, description: str,
                              removal_policy: cdk.RemovalPolicy) -> sqs.Queue:
    """The dead-letter queue Lambda sends a failed asynchronous event to, as the function's role.

    Lambda calls SQS SendMessage with the execution role, and SQS then needs the queue's key for that
    role: `kms:GenerateDataKey` and `kms:Decrypt` (the key policy must also list the role as a user).
    """
    queue = sqs.Queue(scope, "DeadLetters", encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
                      enforce_ssl=True, retention_period=cdk.Duration.days(14), removal_policy=removal_policy)
    nag.acknowledge(queue, "AwsSolutions-SQS3", f"This queue is itself the dead-letter queue of a function ({description})")
    iam.Grant.add_to_principal(grantee=role, actions=["kms:GenerateDataKey", "kms:Decrypt"],
                               resource_arns=[key.key_arn])
    return queue


def acknowledge_function_choices(function: lambda_.Function, *, reserved_concurrency: int | None,
                                 synchronous_invoker: str | None) -> None:
    """Nag acknowledgments for what configuration or the invocation type decided on `function`."""
    if reserved_concurrency is None:
        nag.acknowledge_all(function, nag.LAMBDA_CONCURRENCY,
                            "Reserved concurrency is off by configuration in this environment (a new account's "
                            "Lambda quota may not allow reserving any); set it in config/<env>.yaml, checked "
                            "against lambda_concurrency_quota")
    if synchronous_invoker is not None:
        nag.acknowledge_all(function, nag.LAMBDA_DLQ,
                            f"Invoked only synchronously by {synchronous_invoker}: Lambda never sends a "
                            "synchronous invocation to a dead-letter queue, so one would stay empty")


def vpc_function(scope: Construct, *, role: PlatformRole, asset: Path, description: str,
                 environment: dict[str, str], vpc: ec2.IVpc, vpc_subnets: ec2.SubnetSelection,
                 security_group: ec2.ISecurityGroup, dead_letter_key: kms.IKey, logs_key: kms.IKey,
                 log_retention: logs.RetentionDays, reserved_concurrency: int | None, timeout: cdk.Duration,
                 memory_size: int, removal_policy: cdk.RemovalPolicy,
                 synchronous_invoker: str | None = None) -> VpcFunctionParts:
    """`DeadLetters`, `Logs` and `Function` in `scope`, with the behaviour the nag packs check.

    Behaviour: Python 3.12 handler `handler.handler` from `asset`, in `vpc_subnets` with
    `security_group`; reserved concurrency when configured; X-Ray tracing Active; for a function
    invoked asynchronously a KMS-encrypted, TLS-only dead-letter queue kept 14 days that the role
    can write (with `synchronous_invoker`, naming who invokes it and where its failures go, none:
    the caller gets the error); a KMS-encrypted log group with `log_retention`. The role is
    the caller's, so CDK adds neither the basic-execution nor the VPC-access managed policy: it
    gets write access to this log group only, and the network-interface actions Lambda needs.
    """
    dead_letters = None if synchronous_invoker else asynchronous_dead_letters(
        scope, key=dead_letter_key, role=role, description=description, removal_policy=removal_policy)
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
    acknowledge_function_choices(function, reserved_concurrency=reserved_concurrency,
                                 synchronous_invoker=synchronous_invoker)
    return VpcFunctionParts(function=function, dead_letters=dead_letters, log_group=log_group)
