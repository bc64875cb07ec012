"""One deployable environment: the same Stage class for dev, staging and prod."""
from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.config_sections.monitoring import monitored
from ml_platform.constants import KeyDomain, RolePurpose
from ml_platform.constructs.features.key_users import feature_store_key_statements, feature_store_key_users
from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.constructs.operations.post_deploy_check import PostDeployCheckAccess
from ml_platform.constructs.serving.endpoint_api import STAGE_NAME as API_STAGE_NAME
from ml_platform.constructs.workspaces.guardrails import SageMakerGuardrailAspect
from ml_platform.constructs.workspaces.personas import (
    PERSONA_MODELS_KEY_USERS,
    LabelingAccess,
    persona_lake_key_users,
)
from ml_platform.naming import Naming
from ml_platform.stacks.catalog_stack import CatalogStack
from ml_platform.stacks.dashboard_stack import DashboardStack
from ml_platform.stacks.data_lake_stack import DataLakeStack
from ml_platform.stacks.feature_store_stack import FeatureStoreStack
from ml_platform.stacks.ingestion_stack import IngestionStack
from ml_platform.stacks.labeling_stack import LAKE_KEY_USERS as LABELING_LAKE_KEY_USERS
from ml_platform.stacks.labeling_stack import LabelingStack
from ml_platform.stacks.monitoring_stack import MonitoringStack
from ml_platform.stacks.network_stack import NetworkStack
from ml_platform.stacks.operations_stack import OperationsStack
from ml_platform.stacks.processing_stack import ProcessingStack
from ml_platform.stacks.security_stack import SecurityStack
from ml_platform.stacks.serving_stack import ServingStack
from ml_platform.stacks.training_stack import TrainingStack
from ml_platform.stacks.workspaces_stack import WorkspacesStack
from ml_platform.stages.stage_dashboard import dashboard_sources
from ml_platform.tagging import CostAllocationTags

R = RolePurpose
# Which platform roles may use each domain's key. The key policies name exactly these roles; a
# capability that adds a role that reads or writes a domain's data adds it here.
KEY_USERS: dict[KeyDomain, tuple[RolePurpose, ...]] = {
    KeyDomain.LAKE: (R.LAKE_FORMATION_DATA_ACCESS, R.FIREHOSE_DELIVERY, R.GLUE_ETL, R.GLUE_CRAWLER,
                     R.EMR_SERVERLESS_JOB, R.SAGEMAKER_PROCESSING),
    KeyDomain.MODELS: (R.SAGEMAKER_MODEL, R.ENDPOINT_DEPLOYER, R.ENDPOINT_PROXY, R.GLUE_ETL, R.ANALYST,
                       R.EMR_SERVERLESS_JOB, R.SAGEMAKER_PROCESSING, R.SAGEMAKER_TRAINING, R.SAGEMAKER_PIPELINE,
                       R.MONITORING_JOB, R.MONITORING_RUNNER, R.MODEL_MONITOR),
    KeyDomain.LOGS: (R.GLUE_ETL, R.GLUE_CRAWLER),
    KeyDomain.STREAMING: (R.FIREHOSE_DELIVERY, R.STREAM_TRANSFORM, R.STREAM_PRODUCER),
}


def key_users(config: PlatformConfig) -> dict[KeyDomain, tuple[RolePurpose, ...]]:
    """`KEY_USERS`, plus the persona roles where workspaces are enabled (a key policy may only name
    roles that exist)."""
    if not config.workspaces.enabled:
        return dict(KEY_USERS)
    extra = {KeyDomain.MODELS: PERSONA_MODELS_KEY_USERS,
             KeyDomain.LAKE: persona_lake_key_users(features_enabled=config.features.enabled)}
    return {domain: purposes + extra.get(domain, ()) for domain, purposes in KEY_USERS.items()}


class MlPlatformStage(cdk.Stage):
    """Every stack of one environment, named `<Env>/<Stack>` (e.g. `Dev/Network`)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig,
                 promoter_arn: str | None = None, checker_arn: str | None = None) -> None:
        """`promoter_arn`: the delivery pipeline's role that deploys a model after promoting this stage
        (it gets a model-promotion role in the Serving stack); `checker_arn`: its role that checks the
        stage once deployed (it gets a post-deploy-check role, `PostDeployCheckAccess`)."""
        super().__init__(scope, construct_id,
                         env=cdk.Environment(account=config.account, region=config.region))
        self.config, self.naming, self.promoter_arn = config, Naming.of(config), promoter_arn
        self.removal = cdk.RemovalPolicy.DESTROY if config.destroy_on_delete else cdk.RemovalPolicy.RETAIN
        self._foundation()
        self._training_and_serving()
        self.post_deploy_check = self._post_deploy_check(checker_arn) if checker_arn else None
        self._monitoring()
        self._data_platform()
        self._labeling()
        self._workspaces()
        # Last: it is drawn from every stack above (and imports the two stream names it cannot know).
        self.dashboard = DashboardStack(self, "Dashboard", availability_zones=config.availability_zones,
                                        dashboard_name=self.naming.resource_name("platform"),
                                        sources=dashboard_sources(self),
                                        description=self._describe("CloudWatch dashboard of the environment"))
        # Every role of the environment: the boundary; every role SageMaker assumes: the guardrails.
        self.network.guardrails.apply_boundary(self)
        cdk.Aspects.of(self).add(SageMakerGuardrailAspect(self.network.guardrails.sagemaker_guardrails))
        cdk.Aspects.of(self).add(CostAllocationTags(config.tags.as_dict()))

    def _describe(self, what: str) -> str:
        return f"{self.naming.prefix}: {what}"

    def _foundation(self) -> None:
        """Keys, network, lake buckets and the alert topic every capability builds on."""
        config, naming, removal, azs = self.config, self.naming, self.removal, self.config.availability_zones
        users = key_users(config)
        if config.labeling.enabled:  # a key policy may only name roles that exist
            users[KeyDomain.LAKE] = users[KeyDomain.LAKE] + LABELING_LAKE_KEY_USERS
        self.security = SecurityStack(self, "Security", availability_zones=azs, naming=naming,
                                      key_users=feature_store_key_users(
                                          users, config.features, online_readers=(R.SAGEMAKER_MODEL,)
                                          if config.endpoint.mode != "none" else ()),
                                      extra_statements=feature_store_key_statements(naming, config.features),
                                      removal_policy=removal, description=self._describe("KMS keys per data domain"))
        keys = self.security.keys
        self.network = NetworkStack(self, "Network", availability_zones=azs, config=config, naming=naming,
                                    logs_key=keys.logs, removal_policy=removal,
                                    description=self._describe("isolated VPC with endpoints and flow logs"))
        self.data_lake = DataLakeStack(self, "DataLake", availability_zones=azs, config=config, naming=naming,
                                       lake_key=keys.lake, models_key=keys.models, removal_policy=removal,
                                       description=self._describe("data-lake zone buckets"))
        self.operations = OperationsStack(self, "Operations", availability_zones=azs, config=config,
                                          naming=naming, removal_policy=removal,
                                          description=self._describe("alert topic and cost budget"))
        # Every capability's alarms go to the one topic, with the thresholds of `operations.alarms`.
        self.alerting = Alerting(topic=self.operations.alerts_topic, thresholds=config.operations.alarms)

    def _training_and_serving(self) -> None:
        config, naming, azs, keys = self.config, self.naming, self.config.availability_zones, self.security.keys
        self.training = TrainingStack(self, "Training", availability_zones=azs, config=config, naming=naming,
                                      network=self.network.network, lake=self.data_lake.lake,
                                      models_key=keys.models, alerts_topic=self.operations.alerts_topic,
                                      description=self._describe("SageMaker training pipeline and model registry"))
        self.serving: ServingStack | None = None
        if config.endpoint.mode == "none":
            return
        net = self.network.network
        self.serving = ServingStack(
            self, "Serving", availability_zones=azs, config=config, naming=naming, vpc=net.vpc,
            vpc_subnets=net.private_subnets, security_group=net.workload_security_group,
            artifacts=self.data_lake.lake.artifacts, models_key=keys.models, logs_key=keys.logs,
            registry=self.training.registry,
            alerting=self.alerting, removal_policy=self.removal, promoter_arn=self.promoter_arn,
            description=self._describe("model endpoint, rollout alarms and approval-driven deployer"))
        self.serving.add_stack_dependency(self.training)  # the approval rule names its model package group

    def _post_deploy_check(self, checker_arn: str) -> PostDeployCheckAccess:
        """In Serving where there is an endpoint (it knows the API front), else in Training."""
        serving = self.serving
        return PostDeployCheckAccess(
            serving or self.training, "PostDeployCheck", role_name=self.naming.role_name(R.POST_DEPLOY_CHECK),
            checker_arn=checker_arn, pipeline_name=self.training.pipeline.pipeline_name,
            endpoint_name=serving.spec.endpoint_name if serving else None,
            api=serving.api.api if serving and serving.api else None, api_stage=API_STAGE_NAME)

    def _workspaces(self) -> None:
        """Persona roles and the Studio domain, where `workspaces.enabled`."""
        self.workspaces: WorkspacesStack | None = None
        if not self.config.workspaces.enabled:
            return
        keys = self.security.keys
        self.workspaces = WorkspacesStack(
            self, "Workspaces", availability_zones=self.config.availability_zones, config=self.config,
            naming=self.naming, network=self.network.network, lake=self.data_lake.lake, models_key=keys.models,
            lake_key=keys.lake, governance=self.catalog.governance, workgroup=self.catalog.workgroup,
            registry=self.training.registry, training_pipeline_arn=self.training.pipeline.pipeline_arn,
            feature_groups=self.feature_store.groups if self.feature_store else (), labeling=self._labeling_access(),
            description=self._describe("Studio domain (VPC only) and persona roles"))
        # Lake Formation grants name the LF-tags; the personas read the catalog and the registry.
        for stack in (self.catalog, self.training):
            self.workspaces.add_stack_dependency(stack)

    def _labeling_access(self) -> LabelingAccess | None:
        """What the labeling administrator persona launches and manages, where labeling is enabled."""
        if self.labeling is None:
            return None
        labeling, pool = self.labeling, self.labeling.workforce.user_pool
        return LabelingAccess(
            state_machine_arns=(labeling.launcher.state_machine.state_machine_arn,
                                labeling.active_learning.state_machine.state_machine_arn),
            workteam_arn=labeling.workforce.workteam_arn,
            ground_truth_role_arn=self.naming.role_arn(RolePurpose.LABELING_GROUND_TRUTH),
            user_pool_arn=pool.user_pool_arn if pool is not None else None)

    def _monitoring(self) -> None:
        """Model monitoring of the endpoint, where it can be monitored (monitoring.enabled unset: whenever)."""
        config, e = self.config, self.config.endpoint
        self.monitoring: MonitoringStack | None = None
        if self.serving is None or not monitored(config.monitoring, endpoint_mode=e.mode,
                                                 data_capture_percent=e.data_capture_percent,
                                                 multi_model=e.multi_model):
            return
        keys = self.security.keys
        self.monitoring = MonitoringStack(
            self, "Monitoring", availability_zones=config.availability_zones, config=config, naming=self.naming,
            network=self.network.network, models_key=keys.models, logs_key=keys.logs,
            alerting=self.alerting, endpoint_name=self.serving.spec.endpoint_name,
            removal_policy=self.removal, description=self._describe("model monitoring (drift, quality), alarms, retraining"))
        # The artifacts bucket by name, and the retraining rule's events role: both must exist first.
        for stack in (self.data_lake, self.training):
            self.monitoring.add_stack_dependency(stack)

    def _data_platform(self) -> None:
        """Catalog (Glue + Lake Formation + Athena), then Ingestion and Processing that use it."""
        config, naming, removal, azs = self.config, self.naming, self.removal, self.config.availability_zones
        keys, lake, network = self.security.keys, self.data_lake.lake, self.network.network
        self.catalog = CatalogStack(self, "Catalog", availability_zones=azs, config=config, naming=naming,
                                    lake=lake, models_key=keys.models, removal_policy=removal,
                                    description=self._describe("Glue catalog, Lake Formation, Athena"))
        self.ingestion = IngestionStack(
            self, "Ingestion", availability_zones=azs, config=config, naming=naming, network=network, lake=lake,
            catalog=self.catalog.catalog, governance=self.catalog.governance, streaming_key=keys.streaming,
            lake_key=keys.lake, logs_key=keys.logs, removal_policy=removal, alerting=self.alerting,
            description=self._describe("event stream, transform, Firehose to raw"))
        self.processing = ProcessingStack(
            self, "Processing", availability_zones=azs, config=config, naming=naming, network=network, lake=lake,
            catalog=self.catalog.catalog, governance=self.catalog.governance, lake_key=keys.lake,
            logs_key=keys.logs, removal_policy=removal, alerts_topic=self.operations.alerts_topic,
            description=self._describe("Glue ETL raw -> curated -> features"))
        # The zone buckets are referred to by their stable names, Lake Formation grants name LF-tags
        # and tables by name: the buckets, then the catalog, must exist first.
        self.catalog.add_stack_dependency(self.data_lake)
        for stack in (self.ingestion, self.processing):
            stack.add_stack_dependency(self.catalog)
        # Processing grants Lake Formation access to the SageMaker roles by ARN: they must exist first.
        self.processing.add_stack_dependency(self.training)
        # Both stacks create Lake Formation permissions; deployed in parallel (CDK Pipelines waves)
        # they would race with ConcurrentModificationException. One after the other.
        self.processing.add_stack_dependency(self.ingestion)
        self.feature_store: FeatureStoreStack | None = None
        if config.features.enabled:
            self.feature_store = FeatureStoreStack(
                self, "FeatureStore", availability_zones=azs, config=config, naming=naming, network=network,
                lake=lake, catalog=self.catalog.catalog, governance=self.catalog.governance,
                stream=self.ingestion.stream, lake_key=keys.lake, streaming_key=keys.streaming, logs_key=keys.logs,
                removal_policy=removal, alerting=self.alerting, etl_workflow_name=self.processing.workflow.workflow_name,
                curated_job_name=self.processing.raw_to_curated.job_name,
                online_reader_arns=(naming.role_arn(R.SAGEMAKER_MODEL),) if self.serving else (),
                description=self._describe("SageMaker Feature Store groups, stream ingestion, Glue jobs, compaction"))
            # Its trigger joins the ETL workflow and its policy attaches to the model role by name;
            # after Processing, its Lake Formation permissions never race the other stacks'.
            for prerequisite in (self.catalog, self.processing, *([self.serving] if self.serving else [])):
                self.feature_store.add_stack_dependency(prerequisite)

    def _labeling(self) -> None:
        """Ground Truth workforce, labeling jobs and active learning: only when configured."""
        self.labeling: LabelingStack | None = None
        if not self.config.labeling.enabled:
            return
        keys = self.security.keys
        self.labeling = LabelingStack(
            self, "Labeling", availability_zones=self.config.availability_zones, config=self.config,
            naming=self.naming, network=self.network.network, lake_key=keys.lake, logs_key=keys.logs,
            alerting=self.alerting, removal_policy=self.removal,
            description=self._describe("Ground Truth private workforce, labeling jobs and active learning"))
        self.labeling.add_stack_dependency(self.data_lake)  # buckets are named, not exported
        self.labeling.add_stack_dependency(self.catalog)  # the labeled_events table is in its curated database
