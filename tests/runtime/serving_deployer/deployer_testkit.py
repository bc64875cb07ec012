"""Recorded-shape payloads for the deployer tests: settings like the staging stack writes, registry answers."""
from __future__ import annotations

import datetime as dt

from botocore.stub import Stubber

from ml_platform.config import load_config
from ml_platform.constructs.serving.endpoint_spec import EndpointSpec

ACCOUNT, REGION = "222222222222", "eu-west-1"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/mlp-stg-models/3"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/6f1c2b3a-0d4e-4f5a-9b8c-7d6e5f4a3b2c"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/mlp-stg-sagemaker-model"
NOW = dt.datetime(2026, 3, 2, 10, 15, tzinfo=dt.timezone.utc)



def staging_spec(mode: str = "realtime", **endpoint: object) -> EndpointSpec:
    """The staging stack's `EndpointSpec` (config/staging.yaml's endpoint section), tokens resolved:
    the deployer tests read the same document the CDK side writes, so the two cannot drift.
    `endpoint` overrides fields of the section (e.g. off_hours=None)."""
    config = load_config("staging").endpoint
    if mode != config.mode or endpoint:
        config = config.model_copy(update={"mode": mode, **endpoint})
    bucket = f"s3://mlp-stg-artifacts-{ACCOUNT}-{REGION}"
    topics = f"arn:aws:sns:{REGION}:{ACCOUNT}"
    return EndpointSpec(config=config, endpoint_name="mlp-stg-endpoint", kms_key_arn=KEY_ARN,
                        capture_s3_uri=f"{bucket}/data-capture",
                        async_output_s3_uri=f"{bucket}/async-inference/output",
                        async_failure_s3_uri=f"{bucket}/async-inference/failure",
                        success_topic_arn=f"{topics}:async-success" if mode == "async" else None,
                        error_topic_arn=f"{topics}:async-error" if mode == "async" else None)


def endpoint_document(mode: str = "realtime") -> dict:
    """What the Serving stack puts in ENDPOINT_SPEC for staging: `EndpointSpec.api_document`."""
    spec = staging_spec(mode)
    return spec.api_document([f"{spec.endpoint_name}-5xx-errors", f"{spec.endpoint_name}-model-latency"])


def scaling_document(asynchronous: bool = False) -> dict:
    """What the Serving stack puts in SCALING_SPEC for staging: `EndpointSpec.scaling_document`."""
    document = staging_spec("async" if asynchronous else "realtime").scaling_document()
    assert document is not None
    return document


def package_description(status: str = "Approved", group: str = "mlp-stg-models",
                        submit_directory: str = "/opt/ml/model/code") -> dict:
    """DescribeModelPackage as the registry answers for version 3 of the staging group."""
    return {
        "ModelPackageName": "mlp-stg-models", "ModelPackageGroupName": group, "ModelPackageVersion": 3,
        "ModelPackageArn": PACKAGE_ARN, "CreationTime": NOW, "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
        "ModelApprovalStatus": status,
        "InferenceSpecification": {
            "Containers": [{"Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                            "ModelDataUrl": f"s3://mlp-stg-artifacts-{ACCOUNT}-{REGION}/pipelines/run-7gq2/"
                                            "train/output/model.tar.gz",
                            # As the RegisterModel step registers it: the code inside the archive.
                            "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                                            "SAGEMAKER_SUBMIT_DIRECTORY": submit_directory}}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["application/json"]},
    }


def not_found(stub: Stubber, method: str, message: str, params: dict) -> None:
    stub.add_client_error(method, service_error_code="ValidationException", service_message=message,
                          http_status_code=400, expected_params=params)
