"""Pipeline steps written as SageMaker pipeline definition JSON, for pieces SDK v3 cannot build offline.

SDK v3 registers and deploys models through `ModelBuilder`, which resolves images and uploads
artifacts through the SageMaker and S3 APIs while the definition is built; synth must make no AWS
call. These three steps follow the pipeline definition schema instead (`RegisterModel`: the
CreateModelPackage request; `Model`: CreateModel; `Transform`: CreateTransformJob) and plug into
the SDK's `Pipeline` like any other step, so dependencies and property references still work.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker.core.workflow.properties import Properties
from sagemaker.mlops.workflow.steps import Step, StepTypeEnum

from ml_platform.constructs.training.serving_environment import serving_environment

CONTENT_TYPE = "text/csv"




@dataclass(frozen=True)
class InferenceContainer:
    """The serving container: the training image in script mode with the code inside the model."""

    image_uri: str
    model_data_url: Any  # a pipeline expression: the best tuning trial's model.tar.gz
    region: str          # SAGEMAKER_REGION: the toolkit's region for any AWS call it makes

    def to_request(self) -> dict[str, Any]:
        return {"Image": self.image_uri, "ModelDataUrl": self.model_data_url,
                "Environment": serving_environment(self.region)}


class _JsonStep(Step):  # type: ignore[misc]  # the SDK v3 is untyped (Step is Any to mypy)
    def __init__(self, name: str, step_type: StepTypeEnum, arguments: dict[str, Any], shape: str,
                 depends_on: list[Any] | None = None) -> None:
        super().__init__(name=name, step_type=step_type, depends_on=depends_on)
        self._arguments = arguments
        self._properties = Properties(step_name=name, shape_name=shape)

    @property
    def arguments(self) -> dict[str, Any]:
        return self._arguments

    @property
    def properties(self) -> Properties:
        return self._properties


def register_model_step(*, name: str, group_name: str, container: InferenceContainer,
                        evaluation_report_uri: Any, realtime_instance_types: list[str],
                        transform_instance_types: list[str], drift_check_baselines: dict[str, Any] | None = None,
                        data_quality_metrics: dict[str, Any] | None = None) -> Step:
    """Register the model version, awaiting manual approval, with its evaluation attached (and
    its monitoring baseline, when the pipeline computes one)."""
    model_metrics: dict[str, Any] = {"ModelQuality": {"Statistics": {
        "ContentType": "application/json", "S3Uri": evaluation_report_uri}}}
    arguments: dict[str, Any] = {
        "ModelPackageGroupName": group_name,
        "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {
            "Containers": [container.to_request()],
            "SupportedContentTypes": [CONTENT_TYPE, "application/json"],
            "SupportedResponseMIMETypes": [CONTENT_TYPE, "application/json"],
            "SupportedRealtimeInferenceInstanceTypes": realtime_instance_types,
            "SupportedTransformInstanceTypes": transform_instance_types,
        },
        "ModelMetrics": model_metrics,
    }
    if drift_check_baselines:
        arguments["DriftCheckBaselines"] = drift_check_baselines
    if data_quality_metrics:
        model_metrics["ModelDataQuality"] = data_quality_metrics
    return _JsonStep(name, StepTypeEnum.REGISTER_MODEL, arguments, "DescribeModelPackageOutput")


def create_model_step(*, name: str, role_arn: str, container: InferenceContainer,
                      subnet_ids: list[str], security_group_id: str) -> Step:
    """A SageMaker model for batch transform, placed in the VPC and network-isolated (the guardrails
    deny any other): its inference code travels inside model.tar.gz."""
    return _JsonStep(name, StepTypeEnum.CREATE_MODEL, {
        "ExecutionRoleArn": role_arn,
        "EnableNetworkIsolation": True,
        "PrimaryContainer": container.to_request(),
        "VpcConfig": {"SecurityGroupIds": [security_group_id], "Subnets": subnet_ids},
    }, "DescribeModelOutput")


def transform_step(*, name: str, model_name: Any, input_uri: Any, output_uri: Any, instance_type: str,
                   kms_key_arn: str, depends_on: list[Any] | None = None) -> Step:
    """Score the held-out test split: drop the label column, join predictions onto the input rows."""
    return _JsonStep(name, StepTypeEnum.TRANSFORM, {
        "ModelName": model_name,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": CONTENT_TYPE, "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": output_uri, "KmsKeyId": kms_key_arn, "AssembleWith": "Line",
                            "Accept": CONTENT_TYPE},
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": 1,
                               "VolumeKmsKeyId": kms_key_arn},
        # Test rows are label-first CSV: the model sees columns 1.., the output keeps the label.
        "DataProcessing": {"InputFilter": "$[1:]", "JoinSource": "Input"},
    }, "DescribeTransformJobResponse", depends_on=depends_on)
