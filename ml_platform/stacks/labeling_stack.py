"""Labeling stack (`labeling.enabled`): private workforce, Ground Truth functions, job launcher and
active learning. Composed by the Stage only when enabled; see ml_platform/config_sections/labeling.py.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constants import RolePurpose, bootstrap_assets_bucket
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.constructs.foundation.network_interfaces import EniPlacement
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.labeling.active_learning_machine import ActiveLearningMachine
from ml_platform.constructs.labeling.functions import FunctionBase, LabelingFunction, NetworkPlacement
from ml_platform.constructs.labeling.ground_truth_role import OUTPUT_PREFIX, GroundTruthRole
from ml_platform.constructs.labeling.job_launcher import JOBS_PREFIX, LabelingJobLauncher, report_status
from ml_platform.constructs.labeling.labeling_job_request import JobSettings
from ml_platform.constructs.labeling.model_job_role import ModelJobRole
from ml_platform.constructs.labeling.task_types import BUILT_IN_TASKS
from ml_platform.constructs.labeling.worker_template import (
    ANSWER_FIELD,
    load_event_schema,
    render_built_in_template,
    render_worker_template,
)
from ml_platform.constructs.labeling.workforce import PrivateWorkforce
from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.constructs.training.code_bundle import CodeBundle
from ml_platform.constructs.training.xgboost_image import xgboost_image_uri
from ml_platform.grant_acknowledgments import acknowledge_grants
from ml_platform.naming import Naming
from ml_platform.paths import TRAINING_CODE_ROOT
from ml_platform.retention import retention
from ml_platform.stacks.base import PlatformStack

AL_PREFIX = "labeled/active-learning/"
# Role purposes this stack creates; the stage makes them users of the lake key when labeling is on.
LAKE_KEY_USERS: tuple[RolePurpose, ...] = (
    RolePurpose.LABELING_GROUND_TRUTH,
    RolePurpose.LABELING_PRE_ANNOTATION,
    RolePurpose.LABELING_CONSOLIDATION,
    RolePurpose.LABELING_STEPS,
    RolePurpose.LABELING_MODEL_JOBS,
    RolePurpose.LABELING_LAUNCHER,
    RolePurpose.LABELING_ACTIVE_LEARNING,
)


def _logical_id(function: Construct) -> str:
    child = function.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return cdk.Stack.of(function).get_logical_id(child)


def acknowledge_findings(role: PlatformRole, findings: dict[str, str]) -> None:
    """One IAM5 acknowledgment per wildcard of this role's grants policy, each with its reason."""
    for detail, reason in findings.items():
        role.acknowledge_wildcard(detail, reason)


class LabelingStack(PlatformStack):
    """`<Env>/Labeling`: everything Ground Truth and active learning need in this environment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        naming: Naming,
        network: SecureVpc,
        lake_key: kms.IKey,
        logs_key: kms.IKey,
        alerting: Alerting,
        removal_policy: cdk.RemovalPolicy,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        alerts_topic = alerting.topic
        cfg, region, account = config.labeling, config.region, config.account
        raw, curated = naming.bucket_name("raw"), naming.bucket_name("curated")
        log_retention = retention(config.log_retention_days)
        placement = NetworkPlacement(network.vpc, network.private_subnets, network.workload_security_group)
        topic_key = self._topic_key(removal_policy)
        self.workforce = PrivateWorkforce(
            self,
            "Workforce",
            name=naming.resource_name("workforce"),
            groups=cfg.workteam_groups,
            topic_key=topic_key,
            logs_key=logs_key,
            log_retention=log_retention,
            restore_role_name=naming.role_name(RolePurpose.LABELING_PORTAL_URLS),
            removal_policy=removal_policy,
            existing_workforce_name=cfg.existing_workforce_name,
            existing_workteam_arn=cfg.existing_workteam_arn,
        )
        common = FunctionBase(
            network=placement,
            lake_key=lake_key,
            logs_key=logs_key,
            log_retention=log_retention,
            removal_policy=removal_policy,
            alerting=alerting,
        )
        self.pre_annotation = LabelingFunction(
            self,
            "PreAnnotation",
            folder="labeling_pre_annotation",
            role_name=naming.role_name(RolePurpose.LABELING_PRE_ANNOTATION),
            description="Ground Truth pre-annotation: one platform record to a worker task",
            environment={"LABEL_FIELD": cfg.label_field},
            timeout=cdk.Duration.seconds(30),
            base=common,
        )
        self.consolidation = LabelingFunction(
            self,
            "Consolidation",
            folder="labeling_consolidation",
            role_name=naming.role_name(RolePurpose.LABELING_CONSOLIDATION),
            description="Ground Truth consolidation: majority vote over workers' answers",
            environment={"ANSWER_FIELD": ANSWER_FIELD},
            timeout=cdk.Duration.minutes(5),
            memory_size=512,
            base=common,
        )
        self.consolidation.grant_prefix(curated, OUTPUT_PREFIX, lake_key, write=False)
        self.steps = LabelingFunction(
            self,
            "ActiveLearningSteps",
            folder="labeling_active_learning",
            role_name=naming.role_name(RolePurpose.LABELING_STEPS),
            description="Active-learning steps and labeling-job export on the curated zone",
            environment={"KMS_KEY_ID": lake_key.key_arn},
            timeout=cdk.Duration.minutes(15),
            memory_size=3008,
            base=common,
        )
        self.steps.grant_prefix(curated, OUTPUT_PREFIX, lake_key, write=True)
        self.ground_truth = GroundTruthRole(
            self,
            "GroundTruthRole",
            role_name=naming.role_name(RolePurpose.LABELING_GROUND_TRUTH),
            raw_bucket=raw,
            curated_bucket=curated,
            lake_key=lake_key,
            region=region,
            account=account,
            name_prefix=naming.prefix,
            placement=EniPlacement.of(network.vpc, network.private_subnets, network.workload_security_group),
        )
        for fn in (self.pre_annotation, self.consolidation):
            fn.grant_invoke(self.ground_truth.role)
        acknowledge_findings(
            self.ground_truth.role,
            {
                **{
                    f"Resource::<{_logical_id(fn.function)}.Arn>:*": (
                        "Ground Truth invokes this task function (any version)"
                    )
                    for fn in (self.pre_annotation, self.consolidation)
                },
                **{
                    f"Resource::arn:aws:sagemaker:{region}:{account}:{kind}/{naming.prefix}-*": (
                        "Automated data labeling names its jobs after the labeling job, which carries this prefix"
                    )
                    for kind in ("model", "training-job", "transform-job")
                },
            },
        )
        self._launcher(config, naming, network, lake_key, logs_key, alerts_topic, removal_policy, curated)
        self._active_learning(config, naming, network, lake_key, logs_key, alerts_topic, removal_policy, curated)

    def _topic_key(self, removal_policy: cdk.RemovalPolicy) -> kms.Key:
        """The workers' notification topic key: SageMaker publishes the task notices."""
        key = kms.Key(
            self,
            "WorkerTopicKey",
            enable_key_rotation=True,
            removal_policy=removal_policy,
            description="Ground Truth worker notifications",
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SageMakerPublishes",
                principals=[iam.ServicePrincipal("sagemaker.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        return key

    def _launcher(
        self,
        config: PlatformConfig,
        naming: Naming,
        network: SecureVpc,
        lake_key: kms.IKey,
        logs_key: kms.IKey,
        alerts_topic: sns.ITopic,
        removal_policy: cdk.RemovalPolicy,
        curated: str,
    ) -> None:
        cfg = config.labeling
        settings = JobSettings(
            region=config.region,
            role_arn=self.ground_truth.role.role_arn,
            workteam_arn=self.workforce.workteam_arn,
            output_uri=f"s3://{curated}/{JOBS_PREFIX}",
            jobs_prefix_uri=f"s3://{curated}/{JOBS_PREFIX}",
            kms_key_arn=lake_key.key_arn,
            pre_annotation_arn=self.pre_annotation.function.function_arn,
            consolidation_arn=self.consolidation.function.function_arn,
            subnet_ids=tuple(network.vpc.select_subnets(subnet_type=network.private_subnets.subnet_type).subnet_ids),
            security_group_ids=(network.workload_security_group.security_group_id,),
            task_time_limit_seconds=cfg.task_time_limit_seconds,
            task_availability_seconds=cfg.task_availability_seconds,
            max_concurrent_tasks=cfg.max_concurrent_tasks,
        )
        role = PlatformRole(
            self,
            "LauncherRole",
            role_name=naming.role_name(RolePurpose.LABELING_LAUNCHER),
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs Ground Truth labeling jobs of the platform",
        )
        self.launcher = LabelingJobLauncher(
            self,
            "JobLauncher",
            settings=settings,
            curated_bucket=curated,
            lake_key=lake_key,
            custom_template=render_worker_template(load_event_schema(), cfg.label_field),
            built_in_templates={t.key: render_built_in_template(t.key) for t in BUILT_IN_TASKS},
            defaults={
                "taskType": "custom",
                "automatedLabeling": False,
                "objectCount": 0,
                "workersPerObject": cfg.workers_per_object,
                "labelAttributeName": cfg.label_attribute_name,
            },
            export_lambda_arn=self.steps.function.function_arn,
            job_name_prefix=naming.prefix,
            logs_key=logs_key,
            log_retention=retention(config.log_retention_days),
            alerts_topic=alerts_topic,
            removal_policy=removal_policy,
            role=role,
        )
        self.steps.grant_invoke(self.launcher.state_machine)
        acknowledge_findings(
            role,
            {
                "Resource::*": "X-Ray tracing and CloudWatch Logs delivery of the state machine take no resource",
                f"Resource::arn:aws:s3:::{curated}/{JOBS_PREFIX}/*": (
                    "Each job's template and category file, named per job"
                ),
                f"Resource::arn:aws:sagemaker:{config.region}:<AWS::AccountId>:labeling-job/{naming.prefix}*": (
                    "Labeling jobs are named per launch; only this environment's prefix"
                ),
                f"Resource::<{_logical_id(self.steps.function)}.Arn>:*": "Invoke any version of the steps function",
            },
        )

    def _active_learning(
        self,
        config: PlatformConfig,
        naming: Naming,
        network: SecureVpc,
        lake_key: kms.IKey,
        logs_key: kms.IKey,
        alerts_topic: sns.ITopic,
        removal_policy: cdk.RemovalPolicy,
        curated: str,
    ) -> None:
        al = config.labeling.active_learning
        code = CodeBundle(self, "TrainingCode", source=TRAINING_CODE_ROOT)
        self.model_jobs = ModelJobRole(
            self,
            "ModelJobRole",
            role_name=naming.role_name(RolePurpose.LABELING_MODEL_JOBS),
            curated_bucket=curated,
            prefix=AL_PREFIX,
            lake_key=lake_key,
            assets_bucket=bootstrap_assets_bucket(config.account, config.region),
            region=config.region,
            account=config.account,
            placement=EniPlacement.of(network.vpc, network.private_subnets, network.workload_security_group),
        )
        code.grant_read(self.model_jobs.role)
        acknowledge_grants(
            self.model_jobs.role,
            actions=("s3:GetObject*", "s3:GetBucket*", "s3:List*"),
            resources={
                f"Resource::arn:aws:s3:::{bootstrap_assets_bucket(config.account, config.region)}/*": (
                    "CDK asset grant: the training code bundle, an object whose key is its content hash"
                )
            },
        )
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
        subnets = network.vpc.select_subnets(subnet_type=network.private_subnets.subnet_type).subnet_ids
        role = PlatformRole(
            self,
            "ActiveLearningRole",
            role_name=naming.role_name(RolePurpose.LABELING_ACTIVE_LEARNING),
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Runs active-learning rounds of the platform",
        )
        self.active_learning = ActiveLearningMachine(
            self,
            "ActiveLearning",
            steps=self.steps.function,
            launcher=self.launcher.state_machine,
            settings=settings,
            curated_bucket=curated,
            job_role_arn=self.model_jobs.role.role_arn,
            image_uri=xgboost_image_uri(config.region, config.training.xgboost_framework_version),
            code_uri=code.s3_uri,
            kms_key_arn=lake_key.key_arn,
            subnet_ids=list(subnets),
            security_group_ids=[network.workload_security_group.security_group_id],
            training_instance_type=al.training_instance_type,
            transform_instance_type=al.transform_instance_type,
            workers_per_object=al.workers_per_object,
            held_out_workers_per_object=al.held_out_workers_per_object,
            name_prefix=naming.prefix,
            logs_key=logs_key,
            log_retention=retention(config.log_retention_days),
            alerts_topic=alerts_topic,
            removal_policy=removal_policy,
            role=role,
        )
        machine: sfn.StateMachine = self.active_learning.state_machine
        self.steps.grant_invoke(machine)
        report_status(self.active_learning, machine, alerts_topic, "active-learning")
        # CDK's StartExecution.sync grant on the launcher's executions, as cdk-nag prints it.
        launcher_name = (
            '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"' + _logical_id(self.launcher.state_machine) + '"}]}]}'
        )
        launcher_executions = f"Resource::arn:aws:states:{config.region}:{config.account}:execution:{launcher_name}*"
        findings = {
            "Resource::*": "X-Ray tracing and CloudWatch Logs delivery of the state machine take no resource",
            f"Resource::<{_logical_id(self.steps.function)}.Arn>:*": "Invoke any version of the steps function",
            **{
                f"Resource::arn:aws:sagemaker:<AWS::Region>:<AWS::AccountId>:{kind}/{naming.prefix}-al-*": (
                    "Active-learning jobs are named per run and round; only this environment's al- prefix"
                )
                for kind in ("model", "training-job", "transform-job")
            },
        }
        findings[launcher_executions] = "The .sync integration describes and stops the launcher's own executions"
        acknowledge_findings(role, findings)
