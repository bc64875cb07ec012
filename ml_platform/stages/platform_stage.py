"""One deployable environment: the same Stage class for dev, staging and prod."""
from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from ml_platform.config import PlatformConfig
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

# Which platform roles (by `Naming.role_name` purpose) may use each domain's key. The key policies
# name exactly these roles; a capability that adds a role adds it here.
KEY_USERS: dict[str, tuple[str, ...]] = {
    "lake": ("lake-formation-data-access", "firehose-delivery", "glue-etl", "glue-crawler",
             "emr-serverless-job", "sagemaker-processing"),
    "models": ("sagemaker-model", "endpoint-deployer", "endpoint-proxy", "glue-etl", "analyst", "emr-serverless-job",
               "sagemaker-processing", "sagemaker-training", "sagemaker-pipeline"),
    "logs": ("glue-etl", "glue-crawler"),
    "streaming": ("firehose-delivery", "stream-transform"),
}


class MlPlatformStage(cdk.Stage):
    """Every stack of one environment, named `<Env>/<Stack>` (e.g. `Dev/Network`)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig) -> None:
        super().__init__(scope, construct_id,
                         env=cdk.Environment(account=config.account, region=config.region))
        naming = Naming.of(config)
        removal = cdk.RemovalPolicy.DESTROY if config.destroy_on_delete else cdk.RemovalPolicy.RETAIN
        azs = config.availability_zones
        self.security = SecurityStack(self, "Security", availability_zones=azs, naming=naming, key_users=KEY_USERS,
                                      removal_policy=removal,
                                      description=f"{naming.prefix}: KMS keys per data domain")
        keys = self.security.keys
        self.network = NetworkStack(self, "Network", availability_zones=azs, config=config, naming=naming, logs_key=keys["logs"].key,
                                    removal_policy=removal,
                                    description=f"{naming.prefix}: isolated VPC with endpoints and flow logs")
        self.data_lake = DataLakeStack(self, "DataLake", availability_zones=azs, config=config, naming=naming,
                                       lake_key=keys["lake"].key, models_key=keys["models"].key,
                                       removal_policy=removal,
                                       description=f"{naming.prefix}: data-lake zone buckets")
        self.operations = OperationsStack(self, "Operations", availability_zones=azs, config=config,
                                          naming=naming, removal_policy=removal,
                                          description=f"{naming.prefix}: alert topic and cost budget")
        self.training = TrainingStack(self, "Training", availability_zones=azs, config=config, naming=naming,
                                      network=self.network.network, lake=self.data_lake.lake,
                                      models_key=keys["models"].key,
                                      alerts_topic=self.operations.alerts_topic,
                                      description=f"{naming.prefix}: SageMaker training pipeline and model registry")
        self.serving = None
        if config.endpoint.mode != "none":
            net = self.network.network
            self.serving = ServingStack(
                self, "Serving", availability_zones=azs, config=config, naming=naming, vpc=net.vpc,
                vpc_subnets=net.private_subnets, security_group=net.workload_security_group,
                artifacts=self.data_lake.lake.artifacts, models_key=keys["models"].key, logs_key=keys["logs"].key,
                model_package_group_name=self.training.registry.group_name,
                alerts_topic=self.operations.alerts_topic, removal_policy=removal,
                description=f"{naming.prefix}: model endpoint, rollout alarms and approval-driven deployer")
            self.serving.add_stack_dependency(self.training)  # the approval rule names its model package group
        self._data_platform(config, naming, removal)
        cdk.Aspects.of(self).add(CostAllocationTags(config.tags.as_dict()))

    def _data_platform(self, config: PlatformConfig, naming: Naming, removal: cdk.RemovalPolicy) -> None:
        """Catalog (Glue + Lake Formation + Athena), then Ingestion and Processing that use it."""
        azs, keys, lake = config.availability_zones, self.security.keys, self.data_lake.lake
        self.catalog = CatalogStack(self, "Catalog", availability_zones=azs, config=config, naming=naming,
                                    lake=lake, models_key=keys["models"].key, removal_policy=removal,
                                    description=f"{naming.prefix}: Glue catalog, Lake Formation, Athena")
        common = dict(availability_zones=azs, config=config, naming=naming, network=self.network.network,
                      lake=lake, catalog=self.catalog.catalog, governance=self.catalog.governance,
                      lake_key=keys["lake"].key, logs_key=keys["logs"].key, removal_policy=removal,
                      alerts_topic=self.operations.alerts_topic)
        self.ingestion = IngestionStack(self, "Ingestion", streaming_key=keys["streaming"].key,
                                        description=f"{naming.prefix}: event stream, transform, Firehose to raw",
                                        **common)
        self.processing = ProcessingStack(self, "Processing",
                                          description=f"{naming.prefix}: Glue ETL raw -> curated -> features",
                                          **common)
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
