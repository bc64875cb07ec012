"""Streaming ingestion: the Kinesis event stream -> `lambda/feature_ingestion` -> PutRecord.

Behaviour: the function runs in the isolated subnets and reaches Feature Store through the
runtime's interface endpoint; its event source mapping reports batch item failures, bisects a
failing batch, retries a bounded number of times and drops records older than the configured age
(both finite: a stuck record never blocks its shard for ever), and sends what it gives up on to an
on-failure queue (KMS, streaming key: it holds the Kinesis coordinates of the batch). Records
that can never be written go to a separate dead-letter queue with their reason and data (KMS,
streaming key). FEATURE_TARGETS is rendered from the validated groups, the same mapping the
backfill job takes.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ml_platform import nag
from ml_platform.config_sections.features import StreamIngestionConfig
from ml_platform.constants import RolePurpose
from ml_platform.constructs.features.feature_group import FeatureGroup
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.foundation.vpc_function import FunctionPlacement, VpcFunction
from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.grant_acknowledgments import acknowledge_grants
from ml_platform.naming import Naming
from ml_platform.paths import LAMBDA_ROOT

# Lambda's limit for all environment variables together is 4 KB.
MAX_TARGETS_BYTES = 3500


def feature_target(group: FeatureGroup) -> dict[str, object]:
    """One group's write target: the ingestion function's FEATURE_TARGETS entry, and the backfill's
    `--feature_target` (see lambda/feature_ingestion/ingestion_settings.py)."""
    g = group.config
    return {"feature_group_name": group.name, "record_identifier": g.record_identifier,
            "event_time_feature": g.event_time_feature, "target_stores": list(g.ingestion.target_stores),
            "features": [{"name": f.name, "source": f.source_field, "type": f.type, "required": f.required}
                         for f in g.features]}


def feature_targets(groups: Sequence[FeatureGroup]) -> list[dict[str, object]]:
    """FEATURE_TARGETS: one entry per stream-fed group."""
    return [feature_target(g) for g in groups if g.config.ingestion.from_stream]


def feature_targets_variable(groups: Sequence[FeatureGroup]) -> str:
    """FEATURE_TARGETS as compact JSON, refused when it would not fit Lambda's environment budget."""
    targets = json.dumps(feature_targets(groups), separators=(",", ":"))
    if len(targets.encode()) > MAX_TARGETS_BYTES:
        raise ValueError(f"FEATURE_TARGETS is {len(targets)} bytes, over Lambda's environment budget "
                         f"({MAX_TARGETS_BYTES}): split the groups over more than one function")
    return targets


class StreamIngestion(Construct):
    """The ingestion function, its queues and its event source mapping on `stream`."""

    def __init__(self, scope: Construct, construct_id: str, *, groups: Sequence[FeatureGroup], stream: kinesis.IStream,
                 settings: StreamIngestionConfig, naming: Naming, vpc: ec2.IVpc, subnets: ec2.SubnetSelection,
                 security_group: ec2.ISecurityGroup, streaming_key: kms.IKey, logs_key: kms.IKey,
                 log_retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy, alerting: Alerting) -> None:
        super().__init__(scope, construct_id)
        targets = feature_targets_variable(groups)
        self.dead_letters, self.on_failure = self._queues(settings, streaming_key, removal_policy)
        self.role = PlatformRole(self, "Role", role_name=naming.role_name(RolePurpose.FEATURE_INGESTION),
                                 assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                                 description="Feature ingestion Lambda: Kinesis events -> Feature Store PutRecord")
        self.function = VpcFunction(
            self, "Ingest", asset=LAMBDA_ROOT / "feature_ingestion", role=self.role,
            placement=FunctionPlacement(vpc=vpc, subnets=subnets, security_group=security_group),
            reserved_concurrency=settings.reserved_concurrency, environment_key=streaming_key,
            # Polled by an event source mapping (its own on-failure queue below), never invoked asynchronously.
            async_failures=None, logs_key=logs_key, log_retention=log_retention, removal_policy=removal_policy,
            alerting=alerting,
            timeout=cdk.Duration.seconds(settings.timeout_seconds), memory_size=settings.memory_mb,
            environment={"FEATURE_TARGETS": targets, "DEAD_LETTER_QUEUE_URL": self.dead_letters.queue_url,
                         "MAX_ATTEMPTS": str(settings.max_put_attempts), "LOG_LEVEL": "INFO"},
            description="Writes stream events to the Feature Store; bad records to a dead-letter queue")
        for group in groups:
            if group.config.ingestion.from_stream:
                group.grant_write(self.role)
        self.dead_letters.grant_send_messages(self.role)
        self.mapping_source = sources.KinesisEventSource(
            stream, starting_position=lambda_.StartingPosition[settings.starting_position],
            batch_size=settings.batch_size, max_batching_window=cdk.Duration.seconds(settings.maximum_batching_window_seconds),
            bisect_batch_on_error=settings.bisect_batch_on_error, retry_attempts=settings.maximum_retry_attempts,
            max_record_age=cdk.Duration.seconds(settings.maximum_record_age_seconds),
            parallelization_factor=settings.parallelization_factor, report_batch_item_failures=True,
            on_failure=sources.SqsDlq(self.on_failure))
        self.function.function.add_event_source(self.mapping_source)
        self.alarms = self._alarms(alerting)
        self._acknowledge()

    def _queues(self, settings: StreamIngestionConfig, streaming_key: kms.IKey,
                removal_policy: cdk.RemovalPolicy) -> tuple[sqs.Queue, sqs.Queue]:
        """The invalid-records queue (the function's) and the given-up-batches queue (the mapping's)."""
        invalid_records, given_up_batches = (
            sqs.Queue(self, queue_id, encryption=sqs.QueueEncryption.KMS, encryption_master_key=streaming_key,
                      enforce_ssl=True, retention_period=cdk.Duration.days(settings.dead_letter_retention_days),
                      removal_policy=removal_policy)
            for queue_id in ("InvalidRecords", "GivenUpBatches"))
        for queue, what in ((invalid_records, "records the function can never write, with their reason"),
                            (given_up_batches, "batches the event source mapping gave up on")):
            nag.acknowledge(queue, "AwsSolutions-SQS3", f"This queue is itself a dead-letter destination: {what}")
        return invalid_records, given_up_batches

    def _alarms(self, alerting: Alerting) -> list[cloudwatch.Alarm]:
        """Either queue receiving a message, or the function falling behind the stream."""
        # Feature ingestion dead letters: any message in either queue is a record the feature store lacks.
        return [
            alerting.dead_letter_alarm(self, "InvalidRecordsAlarm", self.dead_letters,
                                       "Feature ingestion: records that can never be written"),
            alerting.dead_letter_alarm(self, "GivenUpBatchesAlarm", self.on_failure,
                                       "Feature ingestion: batches the event source mapping gave up on"),
            alerting.alarm(self, "IteratorAge", threshold=alerting.thresholds.stream_iterator_age_seconds * 1000,
                           metric=self.function.function.metric("IteratorAge", period=alerting.period,
                                                                statistic="Maximum"),
                           evaluation_periods=2,
                           description="Feature ingestion is behind the event stream by more than "
                                       f"{alerting.thresholds.stream_iterator_age_seconds} s"),
        ]

    def _acknowledge(self) -> None:
        """The role's findings on CDK's queue and stream grants (VpcFunction acknowledges the function's own)."""
        acknowledge_grants(self.role, resources={
            "Action::kms:GenerateDataKey*": "CDK queue grant: data keys of the streaming key, to send SSE-KMS "
                                            "messages to the invalid-records and on-failure queues",
            "Action::kms:ReEncrypt*": "CDK queue/stream grants include re-encryption, limited to the streaming key",
            "Resource::*": "X-Ray PutTraceSegments/PutTelemetryRecords (tracing Active) and the Lambda VPC "
                           "network-interface calls have no resource-level permissions"})
