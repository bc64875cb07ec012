"""The two labeling state machines as the stack composes them: the labeling-job launcher and the
active-learning loop, each with its role, the grants on the steps function and the IAM5
acknowledgments of those grants.

Builders, not constructs: they add their resources to `scope` (see environment.py for why).
"""

from __future__ import annotations

from constructs import Construct

from ml_platform.constants import RolePurpose, bootstrap_assets_bucket
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.labeling.active_learning_machine import ActiveLearningMachine
from ml_platform.constructs.labeling.environment import LabelingEnvironment, acknowledge_findings, logical_id
from ml_platform.constructs.labeling.ground_truth_role import INPUT_PREFIX, GroundTruthRole
from ml_platform.constructs.labeling.job_launcher import JOBS_PREFIX, LabelingJobLauncher
from ml_platform.constructs.labeling.labeling_job_request import JobSettings
from ml_platform.constructs.labeling.model_job_role import ModelJobRole
from ml_platform.constructs.labeling.task_functions import LabelingFunctions
from ml_platform.constructs.labeling.task_types import BUILT_IN_TASKS
from ml_platform.constructs.labeling.worker_template import (
    load_event_schema,
    render_built_in_template,
    render_worker_template,
)
from ml_platform.constructs.training.code_bundle import CodeBundle
from ml_platform.constructs.training.xgboost_image import xgboost_image_uri
from ml_platform.grant_acknowledgments import acknowledge_grants
from ml_platform.paths import TRAINING_CODE_ROOT

AL_PREFIX = "labeled/active-learning/"
MACHINE_RUNTIME = "X-Ray tracing and CloudWatch Logs delivery of the state machine take no resource"


def job_settings(env: LabelingEnvironment, ground_truth: GroundTruthRole, workteam_arn: str,
                 functions: LabelingFunctions) -> JobSettings:
    """What every labeling job of the environment shares."""
    cfg, curated = env.config.labeling, env.curated_bucket
    return JobSettings(
        region=env.config.region,
        role_arn=ground_truth.role.role_arn,
        workteam_arn=workteam_arn,
        output_uri=f"s3://{curated}/{JOBS_PREFIX}",
        jobs_prefix_uri=f"s3://{curated}/{JOBS_PREFIX}",
        kms_key_arn=env.lake_key.key_arn,
        pre_annotation_arn=functions.pre_annotation.function.function_arn,
        consolidation_arn=functions.consolidation.function.function_arn,
        subnet_ids=tuple(env.subnet_ids()),
        security_group_ids=(env.network.workload_security_group.security_group_id,),
        task_time_limit_seconds=cfg.task_time_limit_seconds,
        task_availability_seconds=cfg.task_availability_seconds,
        max_concurrent_tasks=cfg.max_concurrent_tasks,
    )


def build_launcher(scope: Construct, env: LabelingEnvironment, settings: JobSettings,
                   functions: LabelingFunctions) -> LabelingJobLauncher:
    """The labeling-job state machine (`JobLauncher`) and its role (`LauncherRole`)."""
    cfg, region, prefix, curated = env.config.labeling, env.config.region, env.naming.prefix, env.curated_bucket
    role = env.role(scope, "LauncherRole", RolePurpose.LABELING_LAUNCHER, "Runs Ground Truth labeling jobs of the platform")
    launcher = LabelingJobLauncher(
        scope,
        "JobLauncher",
        settings=settings,
        curated_bucket=curated,
        lake_key=env.lake_key,
        custom_template=render_worker_template(load_event_schema(), cfg.label_field),
        built_in_templates={t.key: render_built_in_template(t.key) for t in BUILT_IN_TASKS},
        defaults={
            "taskType": "custom",
            "automatedLabeling": False,
            "workersPerObject": cfg.workers_per_object,
            "labelAttributeName": cfg.label_attribute_name,
        },
        export_lambda_arn=functions.steps.function.function_arn,
        input_prefix_uri=f"s3://{env.raw_bucket}/{INPUT_PREFIX}",
        job_name_prefix=prefix,
        runtime=env.machine_runtime(role),
    )
    functions.steps.grant_invoke(launcher.state_machine)
    acknowledge_findings(role, {
        "Resource::*": MACHINE_RUNTIME,
        f"Resource::arn:aws:s3:::{curated}/{JOBS_PREFIX}/*": "Each job's template and category file, named per job",
        f"Resource::arn:aws:sagemaker:{region}:<AWS::AccountId>:labeling-job/{prefix}*": (
            "Labeling jobs are named per launch; only this environment's prefix"
        ),
        f"Resource::<{logical_id(functions.steps.function)}.Arn>:*": "Invoke any version of the steps function",
    })
    return launcher


def build_model_job_role(scope: Construct, env: LabelingEnvironment, code: CodeBundle) -> ModelJobRole:
    """The role of the active-learning training and transform jobs, reading the code bundle."""
    config = env.config
    assets = bootstrap_assets_bucket(config.account, config.region)
    model_jobs = ModelJobRole(
        scope,
        "ModelJobRole",
        role_name=env.naming.role_name(RolePurpose.LABELING_MODEL_JOBS),
        curated_bucket=env.curated_bucket,
        prefix=AL_PREFIX,
        lake_key=env.lake_key,
        region=config.region,
        account=config.account,
        placement=env.eni_placement(),
    )
    code.grant_read(model_jobs.role)
    acknowledge_grants(
        model_jobs.role,
        actions=("s3:GetObject*", "s3:GetBucket*", "s3:List*"),
        resources={
            f"Resource::arn:aws:s3:::{assets}/*": (
                "CDK asset grant: the training code bundle, an object whose key is its content hash"
            )
        },
    )
    return model_jobs


def build_active_learning(scope: Construct, env: LabelingEnvironment, launcher: LabelingJobLauncher,
                          functions: LabelingFunctions) -> tuple[ModelJobRole, ActiveLearningMachine]:
    """The active-learning state machine (`ActiveLearning`), its role and its jobs' role."""
    config, prefix = env.config, env.naming.prefix
    al = config.labeling.active_learning
    code = CodeBundle(scope, "TrainingCode", source=TRAINING_CODE_ROOT)
    model_jobs = build_model_job_role(scope, env, code)
    settings = {
        "target_accuracy": al.target_accuracy,
        "confidence_level": al.confidence_level,
        "initial_batch": al.initial_batch,
        "batch_size": al.batch_size,
        "held_out_share": al.held_out_share,
        "human_task_budget": al.human_task_budget,
        "workers_per_object": al.workers_per_object,
        "held_out_workers_per_object": al.held_out_workers_per_object,
        "max_rounds": al.max_rounds,
        "label_attribute_name": config.labeling.label_attribute_name,
    }
    subnets = env.subnet_ids()
    role = env.role(scope, "ActiveLearningRole", RolePurpose.LABELING_ACTIVE_LEARNING,
                    "Runs active-learning rounds of the platform")
    machine = ActiveLearningMachine(
        scope,
        "ActiveLearning",
        steps=functions.steps.function,
        launcher=launcher.state_machine,
        settings=settings,
        curated_bucket=env.curated_bucket,
        job_role_arn=model_jobs.role.role_arn,
        image_uri=xgboost_image_uri(config.region, config.training.xgboost_framework_version),
        code_uri=code.s3_uri,
        kms_key_arn=env.lake_key.key_arn,
        subnet_ids=subnets,
        security_group_ids=[env.network.workload_security_group.security_group_id],
        training_instance_type=al.training_instance_type,
        transform_instance_type=al.transform_instance_type,
        workers_per_object=al.workers_per_object,
        held_out_workers_per_object=al.held_out_workers_per_object,
        name_prefix=prefix,
        runtime=env.machine_runtime(role),
    )
    functions.steps.grant_invoke(machine.state_machine)
    _acknowledge_active_learning(env, role, launcher=launcher, functions=functions)
    return model_jobs, machine


def _acknowledge_active_learning(env: LabelingEnvironment, role: PlatformRole, *, launcher: LabelingJobLauncher,
                                 functions: LabelingFunctions) -> None:
    config, prefix = env.config, env.naming.prefix
    # CDK's StartExecution.sync grant on the launcher's executions, as cdk-nag prints it.
    launcher_name = (
        '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"' + logical_id(launcher.state_machine) + '"}]}]}'
    )
    launcher_executions = f"Resource::arn:aws:states:{config.region}:{config.account}:execution:{launcher_name}*"
    findings = {
        "Resource::*": MACHINE_RUNTIME,
        f"Resource::<{logical_id(functions.steps.function)}.Arn>:*": "Invoke any version of the steps function",
        **{
            f"Resource::arn:aws:sagemaker:<AWS::Region>:<AWS::AccountId>:{kind}/{prefix}-al-*": (
                "Active-learning jobs are named per run and round; only this environment's al- prefix"
            )
            for kind in ("model", "training-job", "transform-job")
        },
    }
    findings[launcher_executions] = "The .sync integration describes and stops the launcher's own executions"
    acknowledge_findings(role, findings)
