"""The Kinesis stream events are ingested through."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from ml_platform import nag


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

