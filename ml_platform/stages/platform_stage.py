"""One deployable environment: the same Stage class for dev, staging and prod."""
from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.naming import Naming
from ml_platform.stacks.data_lake_stack import DataLakeStack
from ml_platform.stacks.network_stack import NetworkStack
from ml_platform.stacks.operations_stack import OperationsStack
from ml_platform.stacks.security_stack import SecurityStack
from ml_platform.stacks.training_stack import TrainingStack
from ml_platform.stacks.serving_stack import ServingStack
from ml_platform.tagging import CostAllocationTags

# Which platform roles (by `Naming.role_name` purpose) may use each domain's key. The key policies
# name exactly these roles; a capability that adds a role adds it here.
KEY_USERS: dict[str, tuple[str, ...]] = {
    "lake": ("sagemaker-processing",),
    "models": ("sagemaker-model", "endpoint-deployer", "sagemaker-processing", "sagemaker-training",
               "sagemaker-pipeline"),
    "logs": (),
    "streaming": (),
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
            self.serving.add_dependency(self.training)  # the approval rule names its model package group
        cdk.Aspects.of(self).add(CostAllocationTags(config.tags.as_dict()))
