"""The one shape of a platform Lambda function: in the VPC, traced, encrypted, logged, capped."""
from __future__ import annotations

from collections.abc import Mapping
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
from ml_platform.constructs.foundation.network_interfaces import EniPlacement, EniService, grant_network_interfaces
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.operations.alerting import Alerting

ASSET_EXCLUDES = ["__pycache__", "*.pyc", "tests", "*.md"]


@dataclass(frozen=True)
class AsyncFailures:
    """The function is invoked asynchronously (EventBridge, S3, SNS): after Lambda's retries, the
    event goes to a dead-letter queue encrypted with `key`, kept 14 days."""

    key: kms.IKey


@dataclass(frozen=True)
class FunctionPlacement:
    """Where the function runs: the VPC's subnets and the security group it attaches."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup


class VpcFunction(Construct):
    """A Python 3.12 (ARM64) function from `asset` (handler `handler.handler`) with secure defaults.

    Behaviour: runs in `placement` (subnets, security group); X-Ray tracing active; logs to its own
    KMS-encrypted log group with `log_retention`; reserved concurrency caps what it can consume;
    environment variables encrypted with `environment_key`; with `async_failures` a KMS-encrypted,
    TLS-only dead-letter queue receives events that failed every retry of an asynchronous
    invocation. Synchronous callers (API Gateway, Firehose) pass `async_failures=None`: they see
    each error themselves, so no DLQ is created and the DLQ rules are acknowledged with that reason.
    The role is the caller's `PlatformRole` (stable name for key policies): CDK adds no managed
    policy; the role gets write on this log group and the ENI actions Lambda needs in a VPC.
    The function is named like its role (`<prefix>-<purpose>`, one role per function), so alarms,
    logs and the environment's dashboard find it by a name that never changes. Its errors and
    throttles, and its dead-letter queue's depth above zero, alarm to `alerting`'s topic.
    """

    def __init__(self, scope: Construct, construct_id: str, *, asset: Path, role: PlatformRole, description: str,
                 environment: Mapping[str, str], placement: FunctionPlacement, environment_key: kms.IKey,
                 logs_key: kms.IKey, log_retention: logs.RetentionDays, reserved_concurrency: int | None,
                 async_failures: AsyncFailures | None, removal_policy: cdk.RemovalPolicy, alerting: Alerting,
                 timeout: cdk.Duration | None = None, memory_size: int = 512) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = self._dead_letter_queue(async_failures, role, removal_policy)
        self.log_group = logs.LogGroup(self, "LogGroup", encryption_key=logs_key, retention=log_retention,
                                       removal_policy=removal_policy)
        self.function_name = role.stable_name
        self.function = lambda_.Function(
            self, "Function", function_name=self.function_name, runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler", code=lambda_.Code.from_asset(str(asset), exclude=ASSET_EXCLUDES),
            description=description, role=role, environment=dict(environment), environment_encryption=environment_key,
            vpc=placement.vpc, vpc_subnets=placement.subnets, security_groups=[placement.security_group],
            reserved_concurrent_executions=reserved_concurrency, dead_letter_queue=self.dead_letter_queue,
            tracing=lambda_.Tracing.ACTIVE, log_group=self.log_group,
            timeout=timeout or cdk.Duration.minutes(1), memory_size=memory_size)
        self.log_group.grant_write(role)
        self.alarms = alerting.function_alarms(self, self.function, description)
        if self.dead_letter_queue is not None:
            self.alarms.append(alerting.dead_letter_alarm(self, "DeadLetters", self.dead_letter_queue,
                                                          f"{description} (events that failed every retry)"))
        # Lambda decrypts the environment with the function's role; the key policy lists the role as a user.
        environment_key.grant_decrypt(role)
        role.acknowledge_wildcard("Resource::*", "X-Ray PutTraceSegments/PutTelemetryRecords (tracing Active) and "
                                                 "the EC2 Describe* reads of VPC placement have no resource-level "
                                                 "permissions")
        # Lambda creates and deletes the function's network interfaces with the execution role.
        grant_network_interfaces(role, service=EniService.LAMBDA, placement=EniPlacement.of(
            placement.vpc, placement.subnets, placement.security_group))
        # Lambda checks the role's ENI permissions when the function is created: policy first.
        self.function.node.add_dependency(role.grants_policy)
        self._acknowledge(description, reserved_concurrency=reserved_concurrency, async_failures=async_failures)

    def _dead_letter_queue(self, async_failures: AsyncFailures | None, role: PlatformRole,
                           removal_policy: cdk.RemovalPolicy) -> sqs.Queue | None:
        """The queue of events that failed every retry of an asynchronous invocation (none for sync callers)."""
        if async_failures is None:
            return None
        queue = sqs.Queue(
            self, "DeadLetterQueue", encryption=sqs.QueueEncryption.KMS, encryption_master_key=async_failures.key,
            enforce_ssl=True, retention_period=cdk.Duration.days(14), removal_policy=removal_policy)
        # Lambda sends the failed event with the function's role: SQS needs the queue key for it
        # (the key policy lists the role as a user; issue 9 defect 7).
        iam.Grant.add_to_principal(grantee=role, actions=["kms:GenerateDataKey", "kms:Decrypt"],
                                   resource_arns=[async_failures.key.key_arn])
        return queue

    def _acknowledge(self, description: str, *, reserved_concurrency: int | None,
                     async_failures: AsyncFailures | None) -> None:
        """The function's Lambda rules: the pinned runtime, and the concurrency and DLQ it may go without."""
        nag.acknowledge(self.function, "AwsSolutions-L1",
                        "The platform pins the Python 3.12 Lambda runtime for every function (one runtime "
                        "to patch and test); the handler uses only the standard library and boto3")
        if reserved_concurrency is None:
            nag.acknowledge_all(self.function, nag.LAMBDA_CONCURRENCY,
                                "Reserved concurrency is off by configuration in this environment (a new account's "
                                "Lambda quota may not allow reserving any); set it in config/<env>.yaml, checked "
                                "against lambda_concurrency_quota")
        if async_failures is None:
            nag.acknowledge_all(self.function, nag.LAMBDA_DLQ,
                                f"Invoked synchronously only ({description}): the caller receives every error "
                                "and retries; a dead-letter queue would never receive an event")

