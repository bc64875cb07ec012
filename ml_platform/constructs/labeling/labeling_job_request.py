"""The CreateLabelingJob request the launcher state machine sends, as Step Functions parameters.

Values ending in `.$` keys are JSONPath or intrinsic expressions over the launch input (after the
defaults are merged in); everything else is fixed at synth. `tests/infra/test_labeling_requests.py`
renders these with sample inputs and checks them against botocore's SageMaker service model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_platform.constructs.labeling.task_types import BUILT_IN_TASKS, CUSTOM_TASK, BuiltInTask


@dataclass(frozen=True)
class JobSettings:
    """What every labeling job of the environment shares."""

    region: str
    role_arn: str
    workteam_arn: str
    output_uri: str  # s3://<curated>/labeled/jobs
    jobs_prefix_uri: str  # same place: where templates and category files are written per job
    kms_key_arn: str
    pre_annotation_arn: str
    consolidation_arn: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    task_time_limit_seconds: int
    task_availability_seconds: int
    max_concurrent_tasks: int


def template_uri_expression(settings: JobSettings) -> str:
    return f"States.Format('{settings.jobs_prefix_uri}/{{}}/task-template.liquid.html', $.jobName)"


def categories_uri_expression(settings: JobSettings) -> str:
    return f"States.Format('{settings.jobs_prefix_uri}/{{}}/label-categories.json', $.jobName)"


def create_labeling_job_parameters(settings: JobSettings, task: str, *, automated: bool = False) -> dict[str, Any]:
    """Parameters of the `sagemaker:createLabelingJob` task for `task` (custom or a built-in key)."""
    built_in = _built_in(task)
    if built_in is None:
        pre, consolidation = settings.pre_annotation_arn, settings.consolidation_arn
        title, description = "Label platform records", "Choose the label of one platform record"
    else:
        pre, consolidation = built_in.pre_annotation_arn(settings.region), built_in.consolidation_arn(settings.region)
        title, description = f"Label data: {task}", f"Ground Truth built-in task: {task}"
    request: dict[str, Any] = {
        "LabelingJobName.$": "$.jobName",
        "LabelAttributeName.$": "$.labelAttributeName",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri.$": "$.manifestUri"}}},
        "OutputConfig": {"S3OutputPath": settings.output_uri, "KmsKeyId": settings.kms_key_arn},
        "RoleArn": settings.role_arn,
        "LabelCategoryConfigS3Uri.$": categories_uri_expression(settings),
        "HumanTaskConfig": {
            "WorkteamArn": settings.workteam_arn,
            "UiConfig": {"UiTemplateS3Uri.$": template_uri_expression(settings)},
            "PreHumanTaskLambdaArn": pre,
            "TaskTitle": title,
            "TaskDescription": description,
            "TaskKeywords": ["platform", "labeling"],
            "NumberOfHumanWorkersPerDataObject.$": "$.workersPerObject",
            "TaskTimeLimitInSeconds": settings.task_time_limit_seconds,
            "TaskAvailabilityLifetimeInSeconds": settings.task_availability_seconds,
            "MaxConcurrentTaskCount": settings.max_concurrent_tasks,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": consolidation},
        },
    }
    if automated:
        if built_in is None or built_in.algorithm_arn(settings.region) is None:
            raise ValueError(f"task type {task!r} has no built-in automated data labeling")
        request["LabelingJobAlgorithmsConfig"] = {
            "LabelingJobAlgorithmSpecificationArn": built_in.algorithm_arn(settings.region),
            "LabelingJobResourceConfig": {
                "VolumeKmsKeyId": settings.kms_key_arn,
                "VpcConfig": {
                    "SecurityGroupIds": list(settings.security_group_ids),
                    "Subnets": list(settings.subnet_ids),
                },
            },
        }
    return request


def label_categories_document() -> dict[str, Any]:
    """S3 PutObject parameters body for the label category file, from the input's `labels`."""
    return {"Body.$": "States.JsonToString($.categoryFile)"}


def _built_in(task: str) -> BuiltInTask | None:
    if task == CUSTOM_TASK:
        return None
    for candidate in BUILT_IN_TASKS:
        if candidate.key == task:
            return candidate
    raise ValueError(f"unknown task type {task!r}")
