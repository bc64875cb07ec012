"""The SageMaker states of an active-learning round: train, create the model, batch transform.

Custom states of the active-learning machine (`active_learning_machine.py`): our train.py in the
XGBoost framework image (script mode) on the round's human labels, the trained model with our
inference.py, and a batch transform that predicts the held-out slice and the pool. All run as the
model jobs' role (model_job_role.py), in the VPC, with the lake key on their output and volumes.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


@dataclass(frozen=True)
class RoundJobSpec:
    """What the round's SageMaker jobs share."""

    job_role_arn: str
    image_uri: str
    code_uri: str
    kms_key_arn: str
    vpc: dict[str, list[str]]
    curated_bucket: str
    name_prefix: str


def model_job_states(scope: Construct, spec: RoundJobSpec, *, training_instance_type: str,
                     transform_instance_type: str) -> sfn.Chain:
    """Train -> CreateModel -> Predict, added to `scope` (the machine)."""
    train = _train(scope, spec, training_instance_type)
    return train.next(_model(scope, spec)).next(_transform(scope, spec, transform_instance_type))


def _train(scope: Construct, spec: RoundJobSpec, instance_type: str) -> sfn.CustomState:
    """Our train.py in the XGBoost framework image on the round's human labels (.sync)."""
    job_name = f"States.Format('{spec.name_prefix}-al-{{}}-r{{}}', $.runName, $.round)"
    return sfn.CustomState(
        scope,
        "Train",
        state_json={
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": {
                "TrainingJobName.$": job_name,
                "RoleArn": spec.job_role_arn,
                "AlgorithmSpecification": {"TrainingImage": spec.image_uri, "TrainingInputMode": "File"},
                "HyperParameters.$": "$.hyperparameters",
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "ContentType": "text/csv",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri.$": "$.prepare.trainUri",
                                "S3DataDistributionType": "FullyReplicated",
                            }
                        },
                    }
                ],
                "OutputDataConfig": {
                    "S3OutputPath.$": f"States.Format('s3://{spec.curated_bucket}/{{}}models', $.runPrefix)",
                    "KmsKeyId": spec.kms_key_arn,
                },
                "ResourceConfig": {
                    "InstanceCount": 1,
                    "InstanceType": instance_type,
                    "VolumeSizeInGB": 30,
                    "VolumeKmsKeyId": spec.kms_key_arn,
                },
                "VpcConfig": spec.vpc,
                "EnableNetworkIsolation": False,
                "EnableInterContainerTrafficEncryption": True,
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            },
            "ResultSelector": {"modelData.$": "$.ModelArtifacts.S3ModelArtifacts", "name.$": "$.TrainingJobName"},
            "ResultPath": "$.training",
        },
    )


def _model(scope: Construct, spec: RoundJobSpec) -> sfn.CustomState:
    """The trained model with our inference.py (script mode, code from the bundle)."""
    return sfn.CustomState(
        scope,
        "CreateModel",
        state_json={
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createModel",
            "Parameters": {
                "ModelName.$": "$.training.name",
                "ExecutionRoleArn": spec.job_role_arn,
                "VpcConfig": spec.vpc,
                "PrimaryContainer": {
                    "Image": spec.image_uri,
                    "ModelDataUrl.$": "$.training.modelData",
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": spec.code_uri},
                },
            },
            "ResultPath": None,
        },
    )


def _transform(scope: Construct, spec: RoundJobSpec, instance_type: str) -> sfn.CustomState:
    """Batch transform of the held-out slice and the pool (.sync)."""
    return sfn.CustomState(
        scope,
        "Predict",
        state_json={
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
            "Parameters": {
                "TransformJobName.$": "$.training.name",
                "ModelName.$": "$.training.name",
                "TransformInput": {
                    "ContentType": "text/csv",
                    "SplitType": "Line",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri.$": "$.prepare.predictUri"}},
                },
                "TransformOutput": {
                    "S3OutputPath.$": "$.prepare.predictOutputUri",
                    "Accept": "text/csv",
                    "AssembleWith": "Line",
                    "KmsKeyId": spec.kms_key_arn,
                },
                "TransformResources": {
                    "InstanceCount": 1,
                    "InstanceType": instance_type,
                    "VolumeKmsKeyId": spec.kms_key_arn,
                },
            },
            "ResultPath": None,
        },
    )
