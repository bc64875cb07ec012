"""The labeling functions (pre-annotation, consolidation, active-learning steps) and the Ground
Truth execution role that invokes the first two, with their grants and acknowledgments.

Builders, not constructs: they add their resources to `scope` (see environment.py for why).
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from constructs import Construct

from ml_platform.constants import RolePurpose
from ml_platform.constructs.labeling.environment import LabelingEnvironment, acknowledge_findings, logical_id
from ml_platform.constructs.labeling.functions import FunctionBase, LabelingFunction, NetworkPlacement
from ml_platform.constructs.labeling.ground_truth_role import INPUT_PREFIX, OUTPUT_PREFIX, GroundTruthRole
from ml_platform.constructs.labeling.worker_template import ANSWER_FIELD


@dataclass(frozen=True)
class LabelingFunctions:
    """The three functions of the capability."""

    pre_annotation: LabelingFunction
    consolidation: LabelingFunction
    steps: LabelingFunction


def build_task_functions(scope: Construct, env: LabelingEnvironment) -> LabelingFunctions:
    """`PreAnnotation`, `Consolidation` (reads the workers' answers under the curated `labeled/`
    prefix) and `ActiveLearningSteps` (reads and writes there with the lake key, reads the raw
    zone's `labeling/` manifests)."""
    network, naming, cfg = env.network, env.naming, env.config.labeling
    common = FunctionBase(
        network=NetworkPlacement(network.vpc, network.private_subnets, network.workload_security_group),
        lake_key=env.lake_key,
        logs_key=env.logs_key,
        log_retention=env.log_retention,
        removal_policy=env.removal_policy,
        alerting=env.alerting,
    )
    pre_annotation = LabelingFunction(
        scope,
        "PreAnnotation",
        folder="labeling_pre_annotation",
        role_name=naming.role_name(RolePurpose.LABELING_PRE_ANNOTATION),
        description="Ground Truth pre-annotation: one platform record to a worker task",
        environment={"LABEL_FIELD": cfg.label_field},
        timeout=cdk.Duration.seconds(30),
        base=common,
    )
    consolidation = LabelingFunction(
        scope,
        "Consolidation",
        folder="labeling_consolidation",
        role_name=naming.role_name(RolePurpose.LABELING_CONSOLIDATION),
        description="Ground Truth consolidation: majority vote over workers' answers",
        environment={"ANSWER_FIELD": ANSWER_FIELD},
        timeout=cdk.Duration.minutes(5),
        memory_size=512,
        base=common,
    )
    consolidation.grant_prefix(env.curated_bucket, OUTPUT_PREFIX, env.lake_key, write=False)
    steps = LabelingFunction(
        scope,
        "ActiveLearningSteps",
        folder="labeling_active_learning",
        role_name=naming.role_name(RolePurpose.LABELING_STEPS),
        description="Active-learning steps and labeling-job export on the curated zone",
        environment={"KMS_KEY_ID": env.lake_key.key_arn},
        timeout=cdk.Duration.minutes(15),
        memory_size=3008,
        base=common,
    )
    steps.grant_prefix(env.curated_bucket, OUTPUT_PREFIX, env.lake_key, write=True)
    # The launcher's input check reads (and counts) the job's manifest in the raw zone.
    steps.grant_prefix(env.raw_bucket, INPUT_PREFIX, env.lake_key, write=False)
    return LabelingFunctions(pre_annotation, consolidation, steps)


def build_ground_truth(scope: Construct, env: LabelingEnvironment, functions: LabelingFunctions) -> GroundTruthRole:
    """The execution role of every labeling job, allowed to invoke the two task functions."""
    config, prefix = env.config, env.naming.prefix
    ground_truth = GroundTruthRole(
        scope,
        "GroundTruthRole",
        role_name=env.naming.role_name(RolePurpose.LABELING_GROUND_TRUTH),
        raw_bucket=env.raw_bucket,
        curated_bucket=env.curated_bucket,
        lake_key=env.lake_key,
        region=config.region,
        account=config.account,
        name_prefix=prefix,
        placement=env.eni_placement(),
    )
    task_functions = (functions.pre_annotation, functions.consolidation)
    for fn in task_functions:
        fn.grant_invoke(ground_truth.role)
    findings = {
        f"Resource::<{logical_id(fn.function)}.Arn>:*": "Ground Truth invokes this task function (any version)"
        for fn in task_functions
    }
    for kind in ("model", "training-job", "transform-job"):
        findings[f"Resource::arn:aws:sagemaker:{config.region}:{config.account}:{kind}/{prefix}-*"] = (
            "Automated data labeling names its jobs after the labeling job, which carries this prefix"
        )
    acknowledge_findings(ground_truth.role, findings)
    return ground_truth
