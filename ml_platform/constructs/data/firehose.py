"""Firehose delivery from the Kinesis stream into the raw zone, as partitioned Parquet.

The L2 `aws_kinesisfirehose.DeliveryStream` cannot express data-format conversion together with
dynamic partitioning from Lambda metadata, so the delivery stream is the L1 resource, wrapped here.
"""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform.constructs.data.catalog import EVENTS_PREFIX, PARTITION_KEY
from ml_platform.constructs.operations.alerting import Alerting

ERRORS_PREFIX = "errors/"


class RawDeliveryStream(Construct):
    """Kinesis stream -> transform Lambda -> Parquet (Glue table schema) -> raw-zone bucket.

    Behaviour: every record goes through `transform` (validation; it returns the partition keys
    in `metadata.partitionKeys`); records are converted from JSON to Snappy Parquet against the
    Glue table `database.table`; objects land under `events/event_date=<date>/` (dynamic
    partitioning from the Lambda's keys); failures (transform, conversion, partitioning) land
    under `errors/<error type>/`; objects are SSE-KMS with `bucket_key`; delivery errors are
    logged to a KMS-encrypted log group. The source stream is encrypted by its own key; Firehose
    does not accept stream-level SSE for a Kinesis source (data at rest is the stream's and the
    bucket's), see the nag acknowledgment in the stack.
    """

    def __init__(self, scope: Construct, construct_id: str, *, source: kinesis.IStream,
                 transform: lambda_.IFunction, bucket: s3.IBucket, bucket_key: kms.IKey,
                 role: iam.IRole, database_name: str, table_name: str, catalog_id: str, region: str,
                 buffer_interval_seconds: int, buffer_size_mib: int, logs_key: kms.IKey,
                 log_retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "LogGroup", encryption_key=logs_key, retention=log_retention,
                                       removal_policy=removal_policy)
        log_stream = self.log_group.add_stream("DestinationDelivery")
        _grant_delivery_role(role, source=source, bucket=bucket, bucket_key=bucket_key, transform=transform,
                             log_group=self.log_group)
        self.delivery_stream = firehose.CfnDeliveryStream(
            self, "DeliveryStream",
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=source.stream_arn, role_arn=role.role_arn),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=f"{EVENTS_PREFIX}{PARTITION_KEY}=!{{partitionKeyFromLambda:{PARTITION_KEY}}}/",
                error_output_prefix=f"{ERRORS_PREFIX}!{{firehose:error-output-type}}/"
                                    f"{PARTITION_KEY}=!{{timestamp:yyyy-MM-dd}}/",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=buffer_interval_seconds, size_in_m_bs=buffer_size_mib),
                # Parquet compresses itself (Snappy below); Firehose-level compression must be off.
                compression_format="UNCOMPRESSED",
                encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                    kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(
                        awskms_key_arn=bucket_key.key_arn)),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True, log_group_name=self.log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name),
                processing_configuration=_lambda_processing(transform),
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True,
                    retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(duration_in_seconds=300)),
                data_format_conversion_configuration=_parquet_conversion(
                    catalog_id=catalog_id, database_name=database_name, table_name=table_name,
                    region=region, role=role),
            ),
        )
        # Firehose validates its role when the stream is created: the grants must exist first.
        policy = getattr(role, "grants_policy", None)
        if policy is not None:
            self.delivery_stream.node.add_dependency(policy)


def _grant_delivery_role(role: iam.IRole, *, source: kinesis.IStream, bucket: s3.IBucket, bucket_key: kms.IKey,
                         transform: lambda_.IFunction, log_group: logs.ILogGroup) -> None:
    """Read the stream, write the bucket (with its key), run the transform, log delivery errors."""
    source.grant_read(role)
    bucket.grant_read_write(role)
    bucket_key.grant_encrypt_decrypt(role)
    transform.grant_invoke(role)
    # Firehose's documented delivery-role policy for a Lambda transform also reads its configuration.
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["lambda:GetFunctionConfiguration"], resources=[transform.function_arn]))
    log_group.grant_write(role)


def _lambda_processing(transform: lambda_.IFunction) -> firehose.CfnDeliveryStream.ProcessingConfigurationProperty:
    return firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
        enabled=True,
        processors=[firehose.CfnDeliveryStream.ProcessorProperty(
            type="Lambda",
            parameters=[
                _param("LambdaArn", transform.function_arn),
                # 1 MiB batches keep the response far below Lambda's 6 MB limit.
                _param("BufferSizeInMBs", "1"),
                _param("BufferIntervalInSeconds", "60"),
                _param("NumberOfRetries", "3"),
            ])])


def _parquet_conversion(*, catalog_id: str, database_name: str, table_name: str, region: str,
                        role: iam.IRole) -> firehose.CfnDeliveryStream.DataFormatConversionConfigurationProperty:
    """JSON in, Snappy Parquet out, against the Glue table's schema (read with the delivery role)."""
    return firehose.CfnDeliveryStream.DataFormatConversionConfigurationProperty(
        enabled=True,
        input_format_configuration=firehose.CfnDeliveryStream.InputFormatConfigurationProperty(
            deserializer=firehose.CfnDeliveryStream.DeserializerProperty(
                open_x_json_ser_de=firehose.CfnDeliveryStream.OpenXJsonSerDeProperty(case_insensitive=False))),
        output_format_configuration=firehose.CfnDeliveryStream.OutputFormatConfigurationProperty(
            serializer=firehose.CfnDeliveryStream.SerializerProperty(
                parquet_ser_de=firehose.CfnDeliveryStream.ParquetSerDeProperty(compression="SNAPPY"))),
        schema_configuration=firehose.CfnDeliveryStream.SchemaConfigurationProperty(
            catalog_id=catalog_id, database_name=database_name, table_name=table_name,
            region=region, role_arn=role.role_arn, version_id="LATEST"),
    )


def _param(name: str, value: str) -> firehose.CfnDeliveryStream.ProcessorParameterProperty:
    return firehose.CfnDeliveryStream.ProcessorParameterProperty(parameter_name=name, parameter_value=value)


def delivery_alarms(scope: Construct, *, delivery_stream: firehose.CfnDeliveryStream,
                    alerting: Alerting) -> list[cloudwatch.Alarm]:
    """Alarms to the alert topic when events wait too long, delivery to S3 fails, or records fail
    the Parquet conversion (they go to the errors/ prefix). The transform's own errors and throttles
    alarm from its `VpcFunction`.

    Created in `scope` (the stack) with stable IDs: DeliveryFreshness, DeliveryFailures, ConversionFailures.
    """
    dims = {"DeliveryStreamName": delivery_stream.ref}
    period, freshness = alerting.period, alerting.thresholds.delivery_freshness_seconds

    def metric(name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace="AWS/Firehose", metric_name=name, dimensions_map=dims,
                                 statistic=statistic, period=period)

    return [
        alerting.alarm(scope, "DeliveryFreshness", metric=metric("DeliveryToS3.DataFreshness", "Maximum"),
                       threshold=freshness, evaluation_periods=3,
                       comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                       missing=cloudwatch.TreatMissingData.MISSING,
                       description=f"Events wait more than {freshness} s to reach the raw zone"),
        alerting.alarm(scope, "DeliveryFailures", metric=metric("DeliveryToS3.Success", "Minimum"), threshold=1,
                       comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                       description="Firehose failed to put objects into the raw zone"),
        alerting.alarm(scope, "ConversionFailures", metric=metric("FailedConversion.Records", "Sum"), threshold=1,
                       description="Records failed the Parquet conversion against the raw table (sent to errors/)"),
    ]
