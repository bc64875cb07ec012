"""Ingestion stack: stream, transform Lambda and Firehose, read from the templates."""
from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from ml_platform.constructs.data.catalog import EVENT_SCHEMA_PATH


def _one(template, cfn_type):
    found = template.find_resources(cfn_type)
    assert len(found) == 1, f"expected one {cfn_type}, found {len(found)}"
    return next(iter(found.values()))


@pytest.fixture(scope="module")
def ingestion(dev_stage, template_of):
    return template_of(dev_stage.ingestion)


def test_stream_encrypted_with_streaming_key_on_demand(ingestion):
    stream = _one(ingestion, "AWS::Kinesis::Stream")["Properties"]
    assert stream["StreamEncryption"]["EncryptionType"] == "KMS"
    assert "StreamingKey" in stream["StreamEncryption"]["KeyId"]["Fn::ImportValue"]
    assert stream["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert stream["RetentionPeriodHours"] == 24


def test_prod_stream_retention_from_config(prod_stage, template_of):
    stream = _one(template_of(prod_stage.ingestion), "AWS::Kinesis::Stream")["Properties"]
    assert stream["RetentionPeriodHours"] == 168


def test_transform_lambda_in_vpc_with_tracing_and_no_reservation_in_dev(ingestion, dev_stage, reference):
    fn = _one(ingestion, "AWS::Lambda::Function")["Properties"]
    assert fn["Runtime"] == "python3.12"
    assert fn["Handler"] == "handler.handler"
    assert "ReservedConcurrentExecutions" not in fn  # dev: unreserved by configuration (issue 9 defect 14)
    assert fn["TracingConfig"] == {"Mode": "Active"}
    assert len(fn["VpcConfig"]["SubnetIds"]) == 2
    assert fn["VpcConfig"]["SecurityGroupIds"] == [
        reference(dev_stage.ingestion, dev_stage.network.network.workload_security_group, "GroupId")]
    assert fn["Environment"]["Variables"]["LOG_LEVEL"] == "INFO"


def test_transform_reserves_concurrency_where_configured(prod_stage, template_of):
    fn = _one(template_of(prod_stage.ingestion), "AWS::Lambda::Function")["Properties"]
    assert fn["ReservedConcurrentExecutions"] == 5


def test_synchronously_invoked_transform_has_no_dead_letter_queue(ingestion):
    """Firehose invokes the transform synchronously: Lambda never uses a DLQ for that (issue 9 defect 7);
    failed records go to the errors/ prefix instead."""
    assert "DeadLetterConfig" not in _one(ingestion, "AWS::Lambda::Function")["Properties"]
    ingestion.resource_count_is("AWS::SQS::Queue", 0)
    ingestion.has_resource_properties("AWS::KinesisFirehose::DeliveryStream", {
        "ExtendedS3DestinationConfiguration": Match.object_like({"ErrorOutputPrefix": Match.string_like_regexp("^errors/")})})


def test_log_groups_encrypted_with_retention(ingestion, dev_stage, reference):
    logs_key = reference(dev_stage.ingestion, dev_stage.security.keys.logs)
    groups = ingestion.find_resources("AWS::Logs::LogGroup", {"Properties": {"KmsKeyId": logs_key,
                                                                              "RetentionInDays": 30}})
    assert len(groups) == 2  # Lambda and Firehose
    ingestion.resource_count_is("AWS::Logs::LogGroup", 2)


def _destination(ingestion):
    stream = _one(ingestion, "AWS::KinesisFirehose::DeliveryStream")["Properties"]
    assert stream["DeliveryStreamType"] == "KinesisStreamAsSource"
    return stream["ExtendedS3DestinationConfiguration"]


def test_firehose_transforms_with_the_lambda(ingestion):
    processors = _destination(ingestion)["ProcessingConfiguration"]["Processors"]
    assert processors[0]["Type"] == "Lambda"
    lambda_arn = next(p["ParameterValue"] for p in processors[0]["Parameters"] if p["ParameterName"] == "LambdaArn")
    function_id = next(iter(ingestion.find_resources("AWS::Lambda::Function")))
    assert lambda_arn == {"Fn::GetAtt": [function_id, "Arn"]}


def test_firehose_converts_to_parquet_against_the_raw_table(ingestion):
    conversion = _destination(ingestion)["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert "ParquetSerDe" in conversion["OutputFormatConfiguration"]["Serializer"]
    assert "OpenXJsonSerDe" in conversion["InputFormatConfiguration"]["Deserializer"]
    schema = conversion["SchemaConfiguration"]
    assert schema["DatabaseName"] == "mlp_dev_raw"
    assert schema["TableName"] == json.loads(EVENT_SCHEMA_PATH.read_text())["name"]


def test_firehose_partitions_dynamically_with_error_prefix(ingestion):
    dest = _destination(ingestion)
    assert dest["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert dest["Prefix"] == "events/event_date=!{partitionKeyFromLambda:event_date}/"
    assert dest["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
    assert dest["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 128}


def test_firehose_writes_raw_zone_with_kms_and_logs(ingestion, dev_stage, reference):
    dest = _destination(ingestion)
    assert dest["BucketARN"] == "arn:aws:s3:::mlp-dev-raw-111111111111-eu-west-1"
    assert dest["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"] == reference(
        dev_stage.ingestion, dev_stage.security.keys.lake)
    assert dest["CloudWatchLoggingOptions"]["Enabled"] is True


def test_firehose_reads_the_stream(ingestion):
    source = _one(ingestion, "AWS::KinesisFirehose::DeliveryStream")["Properties"]
    stream_id = next(iter(ingestion.find_resources("AWS::Kinesis::Stream")))
    assert source["KinesisStreamSourceConfiguration"]["KinesisStreamARN"] == {"Fn::GetAtt": [stream_id, "Arn"]}


def test_roles_have_stable_names_and_no_inline_policies(ingestion):
    names = {r["Properties"]["RoleName"] for r in ingestion.find_resources("AWS::IAM::Role").values()}
    assert names == {"mlp-dev-stream-transform", "mlp-dev-firehose-delivery", "mlp-dev-stream-producer"}
    ingestion.resource_count_is("AWS::IAM::Policy", 0)


def test_alarms_notify_the_alert_topic(ingestion, dev_stage, reference):
    topic = reference(dev_stage.ingestion, dev_stage.operations.alerts_topic, None)
    # transform errors and throttles, stream iterator age and write throttling, Firehose freshness,
    # S3 delivery and Parquet conversion failures (tests/infra/test_operations_alarms.py: each one)
    ingestion.resource_count_is("AWS::CloudWatch::Alarm", 7)
    assert len(ingestion.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"AlarmActions": [topic]}})) == 7
