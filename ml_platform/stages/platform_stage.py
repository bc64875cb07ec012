"""One deployable environment: the same Stage class for dev, staging and prod."""
from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constants import KeyDomain, RolePurpose
from ml_platform.naming import Naming
from ml_platform.stacks.catalog_stack import CatalogStack
from ml_platform.stacks.data_lake_stack import DataLakeStack
from ml_platform.stacks.ingestion_stack import IngestionStack
from ml_platform.stacks.network_stack import NetworkStack
from ml_platform.stacks.operations_stack import OperationsStack
from ml_platform.stacks.processing_stack import ProcessingStack
from ml_platform.stacks.security_stack import SecurityStack
from ml_platform.stacks.serving_stack import ServingStack
from ml_platform.stacks.training_stack import TrainingStack
from ml_platform.tagging import CostAllocationTags

R = RolePurpose
# Which platform roles may use each domain's key. The key policies name exactly these roles; a
# capability that adds a role that reads or writes a domain's data adds it here.
KEY_USERS: dict[KeyDomain, tuple[RolePurpose, ...]] = {
    KeyDomain.LAKE: (R.LAKE_FORMATION_DATA_ACCESS, R.FIREHOSE_DELIVERY, R.GLUE_ETL, R.GLUE_CRAWLER,
                     R.EMR_SERVERLESS_JOB, R.SAGEMAKER_PROCESSING),
    KeyDomain.MODELS: (R.SAGEMAKER_MODEL, R.ENDPOINT_DEPLOYER, R.ENDPOINT_PROXY, R.GLUE_ETL, R.ANALYST,
                       R.EMR_SERVERLESS_JOB, R.SAGEMAKER_PROCESSING, R.SAGEMAKER_TRAINING, R.SAGEMAKER_PIPELINE),
    KeyDomain.LOGS: (R.GLUE_ETL, R.GLUE_CRAWLER),
    KeyDomain.STREAMING: (R.FIREHOSE_DELIVERY, R.STREAM_TRANSFORM, R.STREAM_PRODUCER),
}


class MlPlatformStage(cdk.Stage):
    """Every stack of one environment, named `<Env>/<Stack>` (e.g. `Dev/Network`)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig,
                 promoter_arn: str | None = None) -> None:
        """`promoter_arn`: the delivery pipeline's role that deploys a model after promoting this stage
        (it gets a model-promotion role in the Serving stack)."""
        super().__init__(scope, construct_id,
                         env=cdk.Environment(account=config.account, region=config.region))
        self.config, self.naming, self.promoter_arn = config, Naming.of(config), promoter_arn
        self.removal = cdk.RemovalPolicy.DESTROY if config.destroy_on_delete else cdk.RemovalPolicy.RETAIN
        self._foundation()
        self._training_and_serving()
        self._data_platform()
        cdk.Aspects.of(self).add(CostAllocationTags(config.tags.as_dict()))

    def _describe(self, what: str) -> str:
        return f"{self.naming.prefix}: {what}"

    def _foundation(self) -> None:
        """Keys, network, lake buckets and the alert topic every capability builds on."""
        config, naming, removal, azs = self.config, self.naming, self.removal, self.config.availability_zones
        self.security = SecurityStack(self, "Security", availability_zones=azs, naming=naming, key_users=KEY_USERS,
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
            alerts_topic=self.operations.alerts_topic, removal_policy=self.removal, promoter_arn=self.promoter_arn,
            description=self._describe("model endpoint, rollout alarms and approval-driven deployer"))
        self.serving.add_stack_dependency(self.training)  # the approval rule names its model package group

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
            lake_key=keys.lake, logs_key=keys.logs, removal_policy=removal,
            alerts_topic=self.operations.alerts_topic,
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
