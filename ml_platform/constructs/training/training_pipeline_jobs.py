"""The SageMaker SDK jobs the training pipeline's steps run: VPC processors and the XGBoost trainer.

Every job runs network-isolated in the isolated subnets with the workload security group,
inter-container encryption and the models key on its volumes and outputs (`Placement`).
"""
from __future__ import annotations

import json
from typing import Any

from ml_platform.config_sections.training import TrainingConfig
from ml_platform.constructs.training.training_pipeline_spec import TrainingPipelineSpec, execution_uri, models_uri

CODE_DIR = "/opt/ml/processing/code"
# Where every processing job receives the code tarball (`code_input`) that its entrypoint unpacks.
CODE_INPUT_DIR = "/opt/ml/processing/input/code"


def vpc_processor(spec: TrainingPipelineSpec, session: Any, script: str, instance_type: Any) -> Any:
    """A processing job in the VPC that unpacks the code tarball and runs one of its scripts."""
    from sagemaker.core.network import NetworkConfig
    from sagemaker.core.processing import Processor
    p = spec.placement
    unpack = (f"mkdir -p {CODE_DIR} && tar -xzf {CODE_INPUT_DIR}/{spec.code_file_name} "
              f"-C {CODE_DIR} && exec python3 {CODE_DIR}/{script} \"$@\"")
    return Processor(
        role=spec.processing_role_arn, image_uri=spec.image_uri, instance_count=1,
        instance_type=instance_type, volume_size_in_gb=spec.training.volume_size_gb,
        volume_kms_key=p.kms_key_arn, output_kms_key=p.kms_key_arn,
        max_runtime_in_seconds=spec.training.max_runtime_seconds,
        entrypoint=["/bin/sh", "-c", unpack, script], sagemaker_session=session,
        network_config=NetworkConfig(
            # SageMaker stages the inputs and uploads the outputs; the script itself needs no network
            # (and the guardrails deny an un-isolated processing job).
            enable_network_isolation=True,
            encrypt_inter_container_traffic=True,
            security_group_ids=[p.security_group_id], subnets=list(p.subnet_ids)))


def processing_input(name: str, uri: Any, local: str) -> Any:
    from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input
    return ProcessingInput(input_name=name, s3_input=ProcessingS3Input(
        s3_uri=uri, local_path=local, s3_data_type="S3Prefix", s3_input_mode="File",
        s3_data_distribution_type="FullyReplicated"))


def code_input(spec: TrainingPipelineSpec) -> Any:
    """The code tarball, the last input of every processing job."""
    return processing_input("code", spec.code_uri, CODE_INPUT_DIR)


def processing_output(name: str, local: str, uri: Any) -> Any:
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output
    return ProcessingOutput(output_name=name, s3_output=ProcessingS3Output(
        local_path=local, s3_uri=uri, s3_upload_mode="EndOfJob"))


def hyperparameter_ranges(training: TrainingConfig) -> dict[str, Any]:
    from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
    out = {}
    for r in training.tuning_ranges:
        if r.kind == "integer":
            out[r.name] = IntegerParameter(int(r.min_value), int(r.max_value), scaling_type=r.scaling)
        else:
            out[r.name] = ContinuousParameter(r.min_value, r.max_value, scaling_type=r.scaling)
    return out


def xgboost_trainer(spec: TrainingPipelineSpec, session: Any, params: dict[str, Any]) -> Any:
    """Script-mode XGBoost trials: code arrives as a channel, so trials need no network at all."""
    from sagemaker.core.training.configs import (
        CheckpointConfig,
        Compute,
        Networking,
        OutputDataConfig,
        StoppingCondition,
    )
    from sagemaker.train.model_trainer import ModelTrainer
    t, p = spec.training, spec.placement
    hyperparameters = {
        # Network isolation: the container cannot fetch code from S3, so it reads the code channel
        # (JSON-encoded strings, as script mode expects).
        "sagemaker_program": json.dumps("train.py"),
        "sagemaker_submit_directory": json.dumps(f"/opt/ml/input/data/code/{spec.code_file_name}"),
        **t.static_hyperparameters,
    }
    return ModelTrainer(
        sagemaker_session=session, role=spec.training_role_arn, training_image=spec.image_uri,
        compute=Compute(instance_type=params["TrainingInstanceType"],
                        instance_count=params["TrainingInstanceCount"], volume_size_in_gb=t.volume_size_gb,
                        enable_managed_spot_training=t.use_spot, volume_kms_key_id=p.kms_key_arn),
        networking=Networking(security_group_ids=[p.security_group_id], subnets=list(p.subnet_ids),
                              enable_network_isolation=True,
                              enable_inter_container_traffic_encryption=True),
        stopping_condition=StoppingCondition(
            max_runtime_in_seconds=t.max_runtime_seconds,
            max_wait_time_in_seconds=t.max_wait_seconds if t.use_spot else None),
        output_data_config=OutputDataConfig(s3_output_path=models_uri(spec), kms_key_id=p.kms_key_arn),
        checkpoint_config=CheckpointConfig(s3_uri=execution_uri(spec, "checkpoints")) if t.use_spot else None,
        hyperparameters=hyperparameters)


def training_channel(name: str, uri: Any, content_type: str | None = "text/csv",
                     distribution: str = "FullyReplicated") -> Any:
    from sagemaker.core.shapes import Channel, DataSource, S3DataSource
    return Channel(channel_name=name, content_type=content_type, data_source=DataSource(
        s3_data_source=S3DataSource(s3_data_type="S3Prefix", s3_uri=uri,
                                    s3_data_distribution_type=distribution)))
