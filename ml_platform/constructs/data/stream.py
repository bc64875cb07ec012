"""Event ingestion building blocks: the Kinesis stream and the Firehose transform Lambda."""
from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ml_platform import nag
from ml_platform.constructs.foundation.vpc_function import acknowledge_function_choices, asynchronous_dead_letters
from ml_platform.paths import LAMBDA_ROOT


class EventStream(Construct):
    """A Kinesis data stream encrypted with a customer-managed key.

    Behaviour: on-demand capacity unless `shard_count` is given (then provisioned); retention in
    hours; SSE-KMS with `key` (never the AWS-managed `aws/kinesis` key, so the key policy decides
    who can read); removal follows the environment's policy.
    """

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, retention_hours: int,
                 shard_count: int | None, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.stream = kinesis.Stream(
            self, "Stream",
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=key,
            stream_mode=kinesis.StreamMode.PROVISIONED if shard_count else kinesis.StreamMode.ON_DEMAND,
            shard_count=shard_count,
            retention_period=cdk.Duration.hours(retention_hours),
            removal_policy=removal_policy,
        )
        # A warning, but the CDK CLI fails synth/deploy of a stack that nests this one (the delivery
        # pipeline) on any unacknowledged AwsSolutions finding.
        nag.acknowledge(self.stream, "AwsSolutions-KDS3",
                        "The customer-managed streaming key is deliberate: its key policy names the only "
                        "roles that may read or write events, which the aws/kinesis key cannot do")

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Put records (PutRecord, PutRecords, and the Describe/ListShards calls producer libraries
        make) and encrypt them with the stream's key. The key policy side comes from the key's
        users: the grantee must be one of the streaming key's roles (KEY_USERS)."""
        return self.stream.grant_write(grantee)


class VpcFunction(Construct):
    """A Python 3.12 Lambda function from `lambda/<folder>` with the platform's defaults.

    Behaviour: runs in the given subnets with the given security group; reserved concurrency
    caps what it can consume when configured; unless `synchronous_invoker` says who invokes it
    synchronously (and so receives its errors), failed asynchronous invocations go to a
    KMS-encrypted, TLS-only SQS dead-letter queue kept 14 days that the role may write; X-Ray
    tracing is active; its logs go to a KMS-encrypted log group with the configured retention.
    The caller owns the role (stable name, key policies).
    """

    def __init__(self, scope: Construct, construct_id: str, *, folder: str, handler: str,
                 role: iam.IRole, vpc: ec2.IVpc, subnets: ec2.SubnetSelection,
                 security_group: ec2.ISecurityGroup, reserved_concurrency: int | None, queue_key: kms.IKey,
                 logs_key: kms.IKey, log_retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy,
                 environment: Mapping[str, str], description: str,
                 timeout: cdk.Duration = cdk.Duration.minutes(1), memory_size: int = 512,
                 synchronous_invoker: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = None if synchronous_invoker else asynchronous_dead_letters(
            self, key=queue_key, role=role, description=description, removal_policy=removal_policy)
        self.log_group = logs.LogGroup(self, "LogGroup", encryption_key=logs_key, retention=log_retention,
                                       removal_policy=removal_policy)
        self.function = lambda_.Function(
            self, "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=lambda_.Code.from_asset(str(LAMBDA_ROOT / folder),
                                         exclude=["__pycache__", "*.pyc", "tests", "*.md"]),
            description=description,
            role=role,
            vpc=vpc, vpc_subnets=subnets, security_groups=[security_group],
            reserved_concurrent_executions=reserved_concurrency,
            dead_letter_queue=self.dead_letter_queue,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            timeout=timeout,
            memory_size=memory_size,
            environment=dict(environment),
        )
        # The role is the caller's, so CDK adds neither the basic-execution nor the VPC-access managed
        # policy: write to our log group only, and manage the function's network interfaces.
        self.log_group.grant_write(role)
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="LambdaVpcNetworkInterfaces",
            actions=["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
                     "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                     "ec2:UnassignPrivateIpAddresses"],
            # Lambda manages the ENIs in the function's subnets on the role's behalf; the AWS-managed
            # AWSLambdaVPCAccessExecutionRole grants the same actions on "*" (no narrower form works).
            resources=["*"]))
        # Lambda checks the role's ENI permissions when the function is created: policy first.
        policy = getattr(role, "grants_policy", None)
        if policy is not None:
            self.function.node.add_dependency(policy)
        acknowledge_function_choices(self.function, reserved_concurrency=reserved_concurrency,
                                     synchronous_invoker=synchronous_invoker)
