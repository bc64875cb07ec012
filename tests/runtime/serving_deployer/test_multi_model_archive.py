"""Multi-model endpoints: the deployer stages the approved archive under the endpoint's prefix before
the endpoint step (server-side copy with the models key), and a repeated event copies nothing."""
from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from deployer_testkit import ACCOUNT, KEY_ARN, NOW, PACKAGE_ARN, REGION, ROLE_ARN, package_description

ENDPOINT = "mlp-stg-endpoint"
BUCKET = f"mlp-stg-artifacts-{ACCOUNT}-{REGION}"
SOURCE_KEY = "pipelines/run-7gq2/train/output/model.tar.gz"
SOURCE_URL = f"s3://{BUCKET}/{SOURCE_KEY}"
TARGET_KEY = "multi-model/mlp-stg-models-v3.tar.gz"


@pytest.fixture
def mm_settings(env):
    from deployer_settings import settings_from
    return settings_from({**env, "MULTI_MODEL_PREFIX": f"s3://{BUCKET}/multi-model/", "MULTI_MODEL_KMS_KEY_ID": KEY_ARN})


@pytest.fixture
def s3():
    client = boto3.client("s3", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _expect_endpoint_already_current(stub, settings):
    from deployer_actions import endpoint_config_request, model_request
    model = model_request(settings, package_description())
    config = endpoint_config_request(settings, model["ModelName"])
    stub.add_response("describe_model_package", package_description(), {"ModelPackageName": PACKAGE_ARN})
    stub.add_response("describe_model", {"ModelName": model["ModelName"], "ExecutionRoleArn": ROLE_ARN, "CreationTime": NOW,
                                         "ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/{model['ModelName']}"},
                      {"ModelName": model["ModelName"]})
    stub.add_response("describe_endpoint_config", {
        "EndpointConfigName": config["EndpointConfigName"], "CreationTime": NOW, "ProductionVariants": config["ProductionVariants"],
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/{config['EndpointConfigName']}"},
        {"EndpointConfigName": config["EndpointConfigName"]})
    stub.add_response("describe_endpoint", {
        "EndpointName": ENDPOINT, "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}",
        "EndpointConfigName": config["EndpointConfigName"], "EndpointStatus": "InService",
        "CreationTime": NOW, "LastModifiedTime": NOW}, {"EndpointName": ENDPOINT})
    return model


def test_approval_copies_archive_server_side_with_models_key_before_endpoint(
        handler_module, mm_settings, sagemaker, s3, load_event):
    # GIVEN a multi-model endpoint and no archive staged for version 3 yet
    sm_client, sm_stub = sagemaker
    s3_client, s3_stub = s3
    model = _expect_endpoint_already_current(sm_stub, mm_settings)
    s3_stub.add_response("list_objects_v2", {"KeyCount": 0, "IsTruncated": False},
                         {"Bucket": BUCKET, "Prefix": TARGET_KEY, "MaxKeys": 1})
    s3_stub.add_response("copy_object", {"CopyObjectResult": {"ETag": '"abc"'}}, {
        "Bucket": BUCKET, "Key": TARGET_KEY, "CopySource": {"Bucket": BUCKET, "Key": SOURCE_KEY},
        "MetadataDirective": "REPLACE", "Metadata": {"source-model-data-url": SOURCE_URL},
        "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY_ARN, "BucketKeyEnabled": True,
        "TaggingDirective": "REPLACE"})
    # WHEN the approval is handled
    result = handler_module.handle(load_event("model_package_approved.json"), mm_settings, sm_client, s3=s3_client)
    # THEN the archive is copied to <prefix>/<group>-v<version>.tar.gz and the model serves the prefix
    assert result["archive_copied"] is True and result["target_model"] == "mlp-stg-models-v3.tar.gz"
    assert result["archive_url"] == f"s3://{BUCKET}/{TARGET_KEY}"
    assert model["PrimaryContainer"]["Mode"] == "MultiModel"
    assert model["PrimaryContainer"]["ModelDataUrl"] == f"s3://{BUCKET}/multi-model/"


def test_repeated_approval_finds_archive_staged_and_copies_nothing(
        handler_module, mm_settings, sagemaker, s3, load_event):
    # GIVEN the archive already staged from the same source (a retried event)
    sm_client, sm_stub = sagemaker
    s3_client, s3_stub = s3
    _expect_endpoint_already_current(sm_stub, mm_settings)
    s3_stub.add_response("list_objects_v2", {"KeyCount": 1, "Contents": [{"Key": TARGET_KEY, "Size": 10}]},
                         {"Bucket": BUCKET, "Prefix": TARGET_KEY, "MaxKeys": 1})
    s3_stub.add_response("head_object", {"Metadata": {"source-model-data-url": SOURCE_URL}, "ContentLength": 10},
                         {"Bucket": BUCKET, "Key": TARGET_KEY})
    # WHEN it is handled again, THEN no copy is made (Stubber fails on any unexpected call)
    result = handler_module.handle(load_event("model_package_approved.json"), mm_settings, sm_client, s3=s3_client)
    assert result["archive_copied"] is False and result["action"] == "unchanged"


def test_archive_staged_from_an_older_package_is_replaced(handler_module, mm_settings, sagemaker, s3, load_event):
    # GIVEN an object at the target key copied from another source (e.g. a re-registered version)
    sm_client, sm_stub = sagemaker
    s3_client, s3_stub = s3
    _expect_endpoint_already_current(sm_stub, mm_settings)
    s3_stub.add_response("list_objects_v2", {"KeyCount": 1, "Contents": [{"Key": TARGET_KEY, "Size": 10}]},
                         {"Bucket": BUCKET, "Prefix": TARGET_KEY, "MaxKeys": 1})
    s3_stub.add_response("head_object", {"Metadata": {"source-model-data-url": "s3://elsewhere/model.tar.gz"}},
                         {"Bucket": BUCKET, "Key": TARGET_KEY})
    s3_stub.add_response("copy_object", {"CopyObjectResult": {"ETag": '"def"'}}, {
        "Bucket": BUCKET, "Key": TARGET_KEY, "CopySource": {"Bucket": BUCKET, "Key": SOURCE_KEY},
        "MetadataDirective": "REPLACE", "Metadata": {"source-model-data-url": SOURCE_URL},
        "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KEY_ARN, "BucketKeyEnabled": True,
        "TaggingDirective": "REPLACE"})
    # WHEN handled, THEN the package's own archive replaces it
    result = handler_module.handle(load_event("model_package_approved.json"), mm_settings, sm_client, s3=s3_client)
    assert result["archive_copied"] is True


def test_package_without_model_data_url_deploys_nothing(handler_module, mm_settings, sagemaker, s3, load_event):
    sm_client, sm_stub = sagemaker
    s3_client, _ = s3
    package = package_description()
    del package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    sm_stub.add_response("describe_model_package", package, {"ModelPackageName": PACKAGE_ARN})
    from deployer_settings import DeploymentError
    with pytest.raises(DeploymentError, match="no ModelDataUrl"):
        handler_module.handle(load_event("model_package_approved.json"), mm_settings, sm_client, s3=s3_client)


def test_multi_model_prefix_without_key_is_a_configuration_error(env):
    from deployer_settings import DeploymentError, settings_from
    with pytest.raises(DeploymentError, match="MULTI_MODEL_KMS_KEY_ID"):
        settings_from({**env, "MULTI_MODEL_PREFIX": f"s3://{BUCKET}/multi-model/"})
