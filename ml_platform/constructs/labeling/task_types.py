"""Ground Truth task types the launcher supports, with AWS's per-region function and algorithm ARNs.

Built-in tasks use AWS's own pre-annotation (PRE-*) and consolidation (ACS-*) functions, owned by a
Ground Truth account per region (CreateLabelingJob API reference, HumanTaskConfig); automated data
labeling uses `labeling-job-algorithm-specification/<task>` in account 027400017018 (the same in
every region; LabelingJobAlgorithmsConfig reference) and needs at least 1,250 objects.
"""

from __future__ import annotations

from dataclasses import dataclass

# Ground Truth's function-owner account per region (the PRE-*/ACS-* Lambda ARNs in the API reference).
GROUND_TRUTH_FUNCTION_ACCOUNTS: dict[str, str] = {
    "us-east-1": "432418664414",
    "us-east-2": "266458841044",
    "us-west-2": "081040173940",
    "ca-central-1": "918755190332",
    "eu-west-1": "568282634449",
    "eu-west-2": "487402164563",
    "eu-central-1": "203001061592",
    "ap-northeast-1": "477331159723",
    "ap-northeast-2": "845288260483",
    "ap-south-1": "565803892007",
    "ap-southeast-1": "377565633583",
    "ap-southeast-2": "454466003867",
}
ALGORITHM_ACCOUNT = "027400017018"
MIN_OBJECTS_FOR_AUTOMATED_LABELING = 1250


@dataclass(frozen=True)
class BuiltInTask:
    """One built-in task type: its AWS function suffix and, where supported, its auto-labeling algorithm."""

    key: str  # what a launch request names: "text-classification", ...
    function: str  # PRE-<function> / ACS-<function>
    algorithm: str | None

    def pre_annotation_arn(self, region: str) -> str:
        return f"arn:aws:lambda:{region}:{_account(region)}:function:PRE-{self.function}"

    def consolidation_arn(self, region: str) -> str:
        return f"arn:aws:lambda:{region}:{_account(region)}:function:ACS-{self.function}"

    def algorithm_arn(self, region: str) -> str | None:
        if self.algorithm is None:
            return None
        return f"arn:aws:sagemaker:{region}:{ALGORITHM_ACCOUNT}:labeling-job-algorithm-specification/{self.algorithm}"


BUILT_IN_TASKS: tuple[BuiltInTask, ...] = (
    BuiltInTask("text-classification", "TextMultiClass", "text-classification"),
    BuiltInTask("image-classification", "ImageMultiClass", "image-classification"),
    BuiltInTask("bounding-box", "BoundingBox", "object-detection"),
)
CUSTOM_TASK = "custom"


def supports_region(region: str) -> bool:
    """Whether Ground Truth's built-in functions exist in `region` (labeling can be enabled there)."""
    return region in GROUND_TRUTH_FUNCTION_ACCOUNTS


def _account(region: str) -> str:
    try:
        return GROUND_TRUTH_FUNCTION_ACCOUNTS[region]
    except KeyError:
        raise ValueError(f"Ground Truth has no built-in task functions in {region}") from None
