"""Ingestion stack: the event stream, the Firehose transform Lambda and the delivery to the raw zone."""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform import nag
from ml_platform.cfn_child import cfn_child
from ml_platform.config import PlatformConfig
from ml_platform.constants import RolePurpose
from ml_platform.constructs.data.catalog import LakeCatalog
from ml_platform.constructs.data.firehose import RawDeliveryStream, delivery_alarms
from ml_platform.constructs.data.lake import DataLake, bucket_ref
from ml_platform.constructs.data.lake_formation import LakeGovernance
from ml_platform.constructs.data.stream import EventStream
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.foundation.vpc_function import FunctionPlacement, VpcFunction
from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.grant_acknowledgments import KMS, S3_READ_WRITE, acknowledge_grants, object_arns
from ml_platform.naming import Naming
from ml_platform.paths import LAMBDA_ROOT
from ml_platform.retention import retention
from ml_platform.stacks.base import PlatformStack


class IngestionStack(PlatformStack):
    """`<Env>/Ingestion`: producers put events on the stream; Firehose validates them through the
    transform Lambda and writes partitioned Parquet to the raw zone."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, naming: Naming,
                 network: SecureVpc, lake: DataLake, catalog: LakeCatalog, governance: LakeGovernance,
                 streaming_key: kms.IKey, lake_key: kms.IKey, logs_key: kms.IKey,
                 removal_policy: cdk.RemovalPolicy, alerting: Alerting, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        streaming = config.streaming
        raw = bucket_ref(self, "RawBucket", lake.raw)
        log_retention = retention(config.log_retention_days)
        events = EventStream(
            self, "Events", key=streaming_key, retention_hours=streaming.retention_hours,
            shard_count=None if streaming.on_demand else streaming.shard_count,
            removal_policy=removal_policy, alerting=alerting)
        self.stream = events.stream
        self.producer_role = self._producer_role(events, naming, config.account)
        transform_role = PlatformRole(
            self, "TransformRole", role_name=naming.role_name(RolePurpose.STREAM_TRANSFORM),
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Firehose transform Lambda: validates and normalises events")
        self.transform = VpcFunction(
            self, "Transform", asset=LAMBDA_ROOT / "firehose_transform", role=transform_role,
            placement=FunctionPlacement(vpc=network.vpc, subnets=network.private_subnets,
                                        security_group=network.workload_security_group),
            reserved_concurrency=streaming.transform_reserved_concurrency, environment_key=streaming_key,
            # Firehose invokes it synchronously: it sees each error itself (then the errors/ prefix), no DLQ.
            async_failures=None, logs_key=logs_key, log_retention=log_retention,
            removal_policy=removal_policy, alerting=alerting, environment={"LOG_LEVEL": "INFO"},
            description="Validates card-transaction events against event_schema.json for Firehose")
        delivery_role = PlatformRole(
            self, "DeliveryRole", role_name=naming.role_name(RolePurpose.FIREHOSE_DELIVERY),
            assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"),
            description="Firehose: reads the event stream, invokes the transform, writes the raw zone")
        governance.grant_describe(delivery_role, zones=("raw",))
        self.delivery = RawDeliveryStream(
            self, "RawDelivery", source=self.stream, transform=self.transform.function, bucket=raw,
            bucket_key=lake_key, role=delivery_role, database_name=catalog.database_names["raw"],
            table_name=catalog.events_table_name, catalog_id=config.account, region=config.region,
            buffer_interval_seconds=streaming.buffer_interval_seconds, buffer_size_mib=streaming.buffer_size_mib,
            logs_key=logs_key, log_retention=log_retention, removal_policy=removal_policy)
        # Firehose reads the raw table's schema when the stream is created: after its DESCRIBE grants.
        self.delivery.delivery_stream.node.add_dependency(*governance.permissions_for(delivery_role))
        self._acknowledge(transform_role, delivery_role, raw)
        self.delivery_alarms = delivery_alarms(self, delivery_stream=self.delivery.delivery_stream, alerting=alerting)

    def _producer_role(self, events: EventStream, naming: Naming, account: str) -> PlatformRole:
        """The producer path: applications of this account assume this role and PutRecords JSON events
        in the shape of lambda/firehose_transform/event_schema.json (the streaming key admits it)."""
        role = PlatformRole(
            self, "ProducerRole", role_name=naming.role_name(RolePurpose.STREAM_PRODUCER),
            assumed_by=iam.AccountPrincipal(account),
            description="Event producers: put card-transaction events on the stream")
        events.grant_write(role)
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            role.acknowledge_wildcard(
                f"Action::{action}", "CDK's Kinesis grant_write: the data-key and re-encrypt variants Kinesis uses "
                                     "with the stream's one key (the key ARN is the only resource)")
        return role

    def _acknowledge(self, transform_role: PlatformRole, delivery_role: PlatformRole, raw: s3.IBucket) -> None:
        function_logical_id = self.get_logical_id(cfn_child(self.transform.function, cdk.CfnElement))
        acknowledge_grants(delivery_role, actions=S3_READ_WRITE + KMS, resources={
            object_arns(raw): "Firehose writes under events/ and errors/ with keys it generates (partition, "
                              "timestamp, random suffix) and cleans up its own failed multipart uploads",
            f"Resource::<{function_logical_id}.Arn>:*": "CDK grant_invoke includes the function's versions "
                                                        "and aliases; Firehose invokes this one function only"})
        nag.acknowledge(self.delivery.delivery_stream, "AwsSolutions-KDF1",
                        "Firehose rejects DeliveryStreamEncryptionConfigurationInput for a Kinesis stream "
                        "source; the source stream is SSE-KMS with the streaming key and every object "
                        "written to the raw zone is SSE-KMS with the lake key")
