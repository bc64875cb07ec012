"""Recorded-shape payloads for the deployer tests: settings like the staging stack writes, registry answers."""
from __future__ import annotations

import datetime as dt

from botocore.stub import Stubber

ACCOUNT, REGION = "222222222222", "eu-west-1"
PACKAGE_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/mlp-stg-models/3"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/6f1c2b3a-0d4e-4f5a-9b8c-7d6e5f4a3b2c"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/mlp-stg-sagemaker-model"
NOW = dt.datetime(2026, 3, 2, 10, 15, tzinfo=dt.timezone.utc)



def endpoint_document(mode: str = "realtime") -> dict:
    """What `EndpointSpec.api_document` puts in ENDPOINT_SPEC for staging (tokens resolved)."""
    doc = {
        "EndpointName": "mlp-stg-endpoint", "KmsKeyId": KEY_ARN,
        "ProductionVariant": {"VariantName": "AllTraffic", "InstanceType": "ml.c5.large",
                              "InitialInstanceCount": 1, "InitialVariantWeight": 1},
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
                "Type": "CANARY", "WaitIntervalInSeconds": 300, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
                "TerminationWaitInSeconds": 600},
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "mlp-stg-endpoint-5xx-errors"},
                                                     {"AlarmName": "mlp-stg-endpoint-model-latency"}]}},
        "DataCaptureConfig": {
            "EnableCapture": True, "InitialSamplingPercentage": 20,
            "DestinationS3Uri": f"s3://mlp-stg-artifacts-{ACCOUNT}-{REGION}/data-capture", "KmsKeyId": KEY_ARN,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}},
    }
    return doc


def scaling_document(asynchronous: bool = False) -> dict:
    target = {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/mlp-stg-endpoint/variant/AllTraffic",
              "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
    doc = {"Target": {**target, "MinCapacity": 0 if asynchronous else 1, "MaxCapacity": 2},
           "Policies": [{**target, "PolicyName": "mlp-stg-endpoint-target-tracking",
                         "PolicyType": "TargetTrackingScaling",
                         "TargetTrackingScalingPolicyConfiguration": {
                             "TargetValue": 100.0, "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
                             "PredefinedMetricSpecification": {
                                 "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}],
           "StepAlarm": None, "ScheduledActions": []}
    if asynchronous:
        doc["Policies"].append({**target, "PolicyName": "mlp-stg-endpoint-backlog-without-capacity",
                                "PolicyType": "StepScaling", "StepScalingPolicyConfiguration": {
                                    "AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Average",
                                    "Cooldown": 60,
                                    "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}]}})
        doc["StepAlarm"] = {"AlarmName": "mlp-stg-endpoint-has-backlog-without-capacity",
                            "Namespace": "AWS/SageMaker", "MetricName": "HasBacklogWithoutCapacity",
                            "Dimensions": [{"Name": "EndpointName", "Value": "mlp-stg-endpoint"}],
                            "Statistic": "Average", "Period": 60, "EvaluationPeriods": 2, "Threshold": 1.0,
                            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "missing"}
    return doc


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
