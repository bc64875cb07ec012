"""Labeling section: the private workforce, labeling jobs and active learning (off unless enabled).

`labeling: {enabled: true}` alone is a complete setup: it creates the Cognito user pool, the private
workforce and one workteam (group `labelers`), the two Ground Truth functions, the job launcher and
the active-learning state machine. An account has at most one private workforce per region and
CreateWorkforce fails if one exists: set `existing_workforce_name` (and `existing_workteam_arn`)
to use those instead of creating them.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from ml_platform.config_sections.base import INSTANCE_TYPE, Section

_WORKTEAM_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:workteam/private-crowd/[A-Za-z0-9-]{1,63}$")
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
CognitoGroup = Annotated[str, Field(pattern=r"^[\w+=,.@-]{1,128}$")]
# Ground Truth automated data labeling refuses smaller datasets (docs: sms-automated-labeling).
MIN_OBJECTS_FOR_AUTOMATED_LABELING = 1250


class ActiveLearningConfig(Section):
    """The active-learning loop's goals and limits (see lambda/labeling_active_learning)."""

    target_accuracy: float = Field(default=0.95, gt=0.5, lt=1.0)
    confidence_level: float = Field(default=0.9, ge=0.5, lt=1.0)
    initial_batch: int = Field(default=200, ge=10, le=100_000)
    batch_size: int = Field(default=100, ge=10, le=100_000)
    held_out_share: float = Field(default=0.3, gt=0.0, lt=1.0)
    human_task_budget: int | None = Field(default=None, ge=1)  # worker tasks per run; None: no limit
    max_rounds: int = Field(default=12, ge=1, le=100)
    workers_per_object: int = Field(default=3, ge=1, le=9)
    held_out_workers_per_object: int = Field(default=5, ge=1, le=9)
    training_instance_type: str = "ml.m5.xlarge"
    transform_instance_type: str = "ml.m5.xlarge"

    @field_validator("training_instance_type", "transform_instance_type")
    @classmethod
    def _instance(cls, value: str) -> str:
        if not INSTANCE_TYPE.match(value):
            raise ValueError("not a SageMaker instance type (e.g. ml.m5.xlarge)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ActiveLearningConfig:
        if self.held_out_workers_per_object < self.workers_per_object:
            raise ValueError(
                "held_out_workers_per_object: the held-out slice measures accuracy, so it needs at "
                "least as many workers per object as the rest (workers_per_object)"
            )
        cheapest_round = self.initial_batch * self.held_out_workers_per_object
        if self.human_task_budget is not None and self.human_task_budget < cheapest_round:
            raise ValueError(
                f"human_task_budget: {self.human_task_budget} tasks cannot pay for the first batch "
                f"(initial_batch x held_out_workers_per_object = {cheapest_round})"
            )
        return self


class LabelingConfig(Section):
    """Ground Truth private workforce, labeling jobs and active learning for this environment."""

    enabled: bool = False
    existing_workforce_name: str | None = None
    existing_workteam_arn: str | None = None
    workteam_groups: tuple[CognitoGroup, ...] = ("labelers",)
    label_field: str = "is_fraud"
    label_attribute_name: str = Field(default="label", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}$")
    workers_per_object: int = Field(default=3, ge=1, le=9)
    task_time_limit_seconds: int = Field(default=600, ge=30, le=28_800)
    task_availability_seconds: int = Field(default=864_000, ge=60, le=864_000)
    max_concurrent_tasks: int = Field(default=100, ge=1, le=5000)
    active_learning: ActiveLearningConfig = ActiveLearningConfig()

    @field_validator("existing_workforce_name")
    @classmethod
    def _workforce(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise ValueError("not a workforce name (1-63 letters, digits and '-')")
        return value

    @field_validator("existing_workteam_arn")
    @classmethod
    def _workteam(cls, value: str | None) -> str | None:
        if value is not None and not _WORKTEAM_ARN.match(value):
            raise ValueError(
                "not a private workteam ARN (arn:aws:sagemaker:<region>:<account>:workteam/private-crowd/<name>)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LabelingConfig:
        if self.existing_workteam_arn and not self.existing_workforce_name:
            raise ValueError("existing_workteam_arn belongs to an existing workforce: set existing_workforce_name too")
        if not self.workteam_groups and not self.existing_workteam_arn:
            raise ValueError("workteam_groups: name at least one Cognito group, or an existing_workteam_arn")
        return self

    @property
    def creates_workforce(self) -> bool:
        return self.existing_workforce_name is None

    @property
    def creates_workteam(self) -> bool:
        return self.existing_workteam_arn is None
