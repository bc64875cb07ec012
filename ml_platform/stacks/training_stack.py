"""Training stack: the SageMaker training pipeline, its model registry, roles and triggers."""
from __future__ import annotations

from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constants import PIPELINES_PREFIX, RolePurpose
from ml_platform.constructs.data.lake import DataLake, grant_prefix_read, grant_prefix_read_write
from ml_platform.constructs.foundation.keys import grant_volume_encryption
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.constructs.foundation.network_interfaces import EniPlacement
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.monitoring.baseline_step import baseline_arguments
from ml_platform.constructs.training.code_bundle import CodeBundle
from ml_platform.constructs.training.job_roles import SageMakerJobRole
from ml_platform.constructs.training.model_registry import ModelRegistry
from ml_platform.constructs.training.training_pipeline import TrainingPipeline, deploy_time_values
from ml_platform.constructs.training.training_pipeline_spec import TrainingPipelineSpec
from ml_platform.constructs.training.training_pipeline_triggers import TrainingPipelineTriggers
from ml_platform.constructs.training.xgboost_image import xgboost_image_uri
from ml_platform.naming import Naming
from ml_platform.paths import TRAINING_CODE_ROOT
from ml_platform.stacks.base import PlatformStack

TRAINING_CODE = TRAINING_CODE_ROOT
# The role purposes this stack creates (`Naming.role_name`); the stage lists them in KEY_USERS.
PIPELINE_ROLE, PROCESSING_ROLE, TRAINING_ROLE, EVENTS_ROLE = (
    RolePurpose.SAGEMAKER_PIPELINE, RolePurpose.SAGEMAKER_PROCESSING, RolePurpose.SAGEMAKER_TRAINING,
    RolePurpose.EVENTS_START_PIPELINE)


class TrainingStack(PlatformStack):
    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, naming: Naming,
                 network: SecureVpc, lake: DataLake, models_key: kms.IKey, alerts_topic: sns.ITopic,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # The ETL's training-ready channels or the point-in-time set (features.training_source).
        t, input_prefix = config.training, config.training_input_prefix
        self.code = CodeBundle(self, "TrainingCode", source=TRAINING_CODE)
        self.registry = ModelRegistry(self, "ModelRegistry", group_name=naming.resource_name("models"),
                                      description=f"{naming.prefix}: fraud-detection XGBoost models")
        eni_placement = EniPlacement.of(network.vpc, network.private_subnets, network.workload_security_group)
        self.processing_role = SageMakerJobRole(
            self, "ProcessingRole", role_name=naming.role_name(PROCESSING_ROLE), region=config.region,
            account=config.account, log_groups=["ProcessingJobs", "TransformJobs"], placement=eni_placement,
            description="SageMaker processing jobs (preprocess, evaluate) and the batch-transform model")
        self.training_role = SageMakerJobRole(
            self, "TrainingRole", role_name=naming.role_name(TRAINING_ROLE), region=config.region,
            account=config.account, log_groups=["TrainingJobs"], placement=eni_placement,
            description="SageMaker training jobs (the tuning job's trials)")
        self.pipeline_role = PlatformRole(
            self, "PipelineRole", role_name=naming.role_name(PIPELINE_ROLE),
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker Pipelines: runs the training pipeline's steps")
        placement, values = deploy_time_values(
            subnet_ids=network.vpc.select_subnets(subnet_type=network.private_subnets.subnet_type).subnet_ids,
            security_group_id=network.workload_security_group.security_group_id, models_key_arn=models_key.key_arn,
            artifacts_bucket=lake.artifacts.bucket_name, features_bucket=lake.features.bucket_name)
        spec = TrainingPipelineSpec(
            name=naming.resource_name("training"), region=config.region,
            image_uri=xgboost_image_uri(config.region, t.xgboost_framework_version),
            code_uri=self.code.s3_uri, code_file_name=self.code.file_name,
            processing_role_arn=naming.role_arn(PROCESSING_ROLE), training_role_arn=naming.role_arn(TRAINING_ROLE),
            artifacts_bucket="${Artifacts}", default_input_uri=f"s3://${{Features}}/{input_prefix}",
            model_package_group=self.registry.group_name, training=t,
            placement=placement,
            baseline_arguments=baseline_arguments(config.monitoring))
        self.pipeline = TrainingPipeline(self, "TrainingPipeline", spec=spec, values=values,
                                         role=self.pipeline_role,
                                         job_roles=[self.processing_role, self.training_role])
        self.pipeline.pipeline.node.add_dependency(self.registry.group)
        # Every job's volume (and the transform model's) is encrypted with the models key: the
        # pipeline role creates the jobs, the job roles run them.
        for role in (self.pipeline_role, self.processing_role, self.training_role):
            grant_volume_encryption(models_key, role)
        self._grant_data(lake, naming, input_prefix)
        self._triggers(naming, lake, schedule=t.schedule_cron, prefix=input_prefix, alerts_topic=alerts_topic)

    def _triggers(self, naming: Naming, lake: DataLake, *, schedule: str | None, prefix: str,
                  alerts_topic: sns.ITopic) -> None:
        """EventBridge starts the pipeline on schedule and when new training data lands."""
        self.events_role = PlatformRole(
            self, "EventsRole", role_name=naming.role_name(EVENTS_ROLE),
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="EventBridge: starts the training pipeline on schedule and on new data")
        self.pipeline.grant_start_execution(self.events_role)
        self.triggers = TrainingPipelineTriggers(
            self, "Triggers", pipeline_arn=self.pipeline.pipeline_arn, role=self.events_role,
            schedule=schedule, bucket_name=lake.features.bucket_name, prefix=prefix,
            alerts_topic=alerts_topic)

    def _grant_data(self, lake: DataLake, naming: Naming, training_ready_prefix: str) -> None:
        """Each role reaches only its prefixes: inputs read-only, pipeline outputs read-write.

        The buckets are referenced by their stable names (`Naming.bucket_name`) with the lake's
        keys, so the policies hold literal ARNs a reviewer (and cdk-nag) can read.
        """
        features, artifacts = (s3.Bucket.from_bucket_attributes(
            self, f"{zone.capitalize()}Zone", bucket_name=naming.bucket_name(zone),
            bucket_arn=f"arn:aws:s3:::{naming.bucket_name(zone)}", encryption_key=getattr(lake, zone).encryption_key) for zone in ("features", "artifacts"))
        grant_prefix_read(features, self.processing_role, training_ready_prefix,
                          "Preprocessing reads only the training-ready prefix of the features bucket (read-only)")
        for role in (self.processing_role, self.training_role):
            grant_prefix_read_write(artifacts, role, f"{PIPELINES_PREFIX}/",
                                    "Jobs read and write only the pipeline's prefix of the artifacts bucket; object "
                                    "keys are per execution and step")
            self.code.grant_read(role)
        # The pipeline service reads evaluation.json (the PropertyFile) itself.
        grant_prefix_read(artifacts, self.pipeline_role, f"{PIPELINES_PREFIX}/",
                          "SageMaker Pipelines reads evaluation.json (the condition's PropertyFile) from the "
                          "pipeline's prefix; read-only")
        self.registry.grant_register(self.pipeline_role)
