"""What the training pipeline's definition is built from, and where its executions write.

Every value is known at synth time or is a `${Name}` placeholder the CDK construct substitutes
(`training_pipeline_definition.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ml_platform.config_sections.training import TrainingConfig
from ml_platform.constants import PIPELINES_PREFIX


@dataclass(frozen=True)
class Placement:
    """Where every job runs and what encrypts it."""

    subnet_ids: tuple[str, ...]
    security_group_id: str
    kms_key_arn: str  # volumes and outputs (the models key)


@dataclass(frozen=True)
class TrainingPipelineSpec:
    name: str
    region: str
    image_uri: str
    code_uri: str        # s3://.../<hash>.gz, the deterministic tarball of training_code/
    code_file_name: str  # its base name, under /opt/ml/input/data/code/ in training jobs
    processing_role_arn: str
    training_role_arn: str
    artifacts_bucket: str
    default_input_uri: str
    model_package_group: str
    training: TrainingConfig
    placement: Placement
    # Only for an image of our own: the AWS XGBoost image takes none (see `_tuning_step` of the definition).
    metric_definitions: list[dict[str, Any]] = field(default_factory=list)
    # baseline.py's arguments (constructs/monitoring/baseline_step.py); None: no baseline step.
    baseline_arguments: tuple[str, ...] | None = None


def execution_uri(spec: TrainingPipelineSpec, *parts: Any) -> Any:
    """`s3://<artifacts>/pipelines/<name>/<execution id>/<parts...>`: one folder per execution."""
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    return Join(on="/", values=[f"s3://{spec.artifacts_bucket}", PIPELINES_PREFIX, spec.name,
                                ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


def models_uri(spec: TrainingPipelineSpec) -> str:
    """Where the tuning trials write their models (the same folder for every execution)."""
    return f"s3://{spec.artifacts_bucket}/{PIPELINES_PREFIX}/{spec.name}/models"
