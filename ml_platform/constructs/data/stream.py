"""The Kinesis stream events are ingested through."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from ml_platform import nag
from ml_platform.constructs.operations.alerting import Alerting


class EventStream(Construct):
    """A Kinesis data stream encrypted with a customer-managed key.

    Behaviour: on-demand capacity unless `shard_count` is given (then provisioned); retention in
    hours; SSE-KMS with `key` (never the AWS-managed `aws/kinesis` key, so the key policy decides
    who can read); removal follows the environment's policy. Alarms to `alerting`'s topic when the
    oldest unread record is older than `stream_iterator_age_seconds` (a consumer fell behind: past
    the retention its records are lost) and when producers' writes are throttled.
    """

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, retention_hours: int,
                 shard_count: int | None, removal_policy: cdk.RemovalPolicy, alerting: Alerting) -> None:
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
        t, period = alerting.thresholds, alerting.period
        self.alarms = [
            alerting.alarm(self, "IteratorAge", threshold=t.stream_iterator_age_seconds * 1000,
                           metric=self.stream.metric_get_records_iterator_age_milliseconds(
                               period=period, statistic="Maximum"),
                           comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, evaluation_periods=2,
                           description=f"A consumer of the event stream is more than {t.stream_iterator_age_seconds} s "
                                       f"behind (records expire after {retention_hours} h)"),
            alerting.alarm(self, "WriteThrottled", threshold=t.stream_write_throttled_records,
                           metric=self.stream.metric_write_provisioned_throughput_exceeded(period=period, statistic="Sum"),
                           description="Records producers put were refused: the event stream's write capacity was exceeded"),
        ]

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Put records (PutRecord, PutRecords, and the Describe/ListShards calls producer libraries
        make) and encrypt them with the stream's key. The key policy side comes from the key's
        users: the grantee must be one of the streaming key's roles (KEY_USERS)."""
        return self.stream.grant_write(grantee)

