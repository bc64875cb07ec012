"""What every part of the labeling capability is built from, and the helpers the parts share.

The parts (`task_functions.py`, `machines.py`) add their resources directly to the scope they are
given (the `Labeling` stack), not under a wrapping construct: the construct IDs, and so the logical
IDs CloudFormation knows the deployed resources by, stay those of the first version of the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constants import RolePurpose
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.constructs.foundation.network_interfaces import EniPlacement
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.labeling.machine_defaults import MachineRuntime
from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.naming import Naming
from ml_platform.retention import retention

# Role purposes the capability creates; the stage makes them users of the lake key when labeling is on.
LAKE_KEY_USERS: tuple[RolePurpose, ...] = (
    RolePurpose.LABELING_GROUND_TRUTH,
    RolePurpose.LABELING_PRE_ANNOTATION,
    RolePurpose.LABELING_CONSOLIDATION,
    RolePurpose.LABELING_STEPS,
    RolePurpose.LABELING_MODEL_JOBS,
    RolePurpose.LABELING_LAUNCHER,
    RolePurpose.LABELING_ACTIVE_LEARNING,
)


@dataclass(frozen=True)
class LabelingEnvironment:
    """The environment's settings and the shared resources the labeling parts use."""

    config: PlatformConfig
    naming: Naming
    network: SecureVpc
    lake_key: kms.IKey
    logs_key: kms.IKey
    alerting: Alerting
    removal_policy: cdk.RemovalPolicy

    @property
    def alerts_topic(self) -> sns.ITopic:
        return self.alerting.topic

    def machine_runtime(self, role: iam.IRole) -> MachineRuntime:
        """What a labeling state machine running as `role` logs with and reports to, in this environment."""
        return MachineRuntime(role=role, logs_key=self.logs_key, log_retention=self.log_retention,
                              removal_policy=self.removal_policy, alerts_topic=self.alerts_topic)

    def eni_placement(self) -> EniPlacement:
        """Where the labeling jobs' network interfaces may be created (the isolated subnets)."""
        return EniPlacement.of(self.network.vpc, self.network.private_subnets, self.network.workload_security_group)

    @property
    def raw_bucket(self) -> str:
        return self.naming.bucket_name("raw")

    @property
    def curated_bucket(self) -> str:
        return self.naming.bucket_name("curated")

    @property
    def log_retention(self) -> logs.RetentionDays:
        return retention(self.config.log_retention_days)

    def subnet_ids(self) -> list[str]:
        return list(self.network.vpc.select_subnets(subnet_type=self.network.private_subnets.subnet_type).subnet_ids)

    def role(self, scope: Construct, construct_id: str, purpose: RolePurpose, description: str) -> PlatformRole:
        """A role Step Functions assumes for one of the labeling state machines."""
        return PlatformRole(
            scope,
            construct_id,
            role_name=self.naming.role_name(purpose),
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=description,
        )


def logical_id(construct: Construct) -> str:
    """The logical ID of a construct's default resource, as cdk-nag names it in findings."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return cdk.Stack.of(construct).get_logical_id(child)


def acknowledge_findings(role: PlatformRole, findings: dict[str, str]) -> None:
    """One IAM5 acknowledgment per wildcard of this role's grants policy, each with its reason."""
    for detail, reason in findings.items():
        role.acknowledge_wildcard(detail, reason)


def worker_topic_key(scope: Construct, removal_policy: cdk.RemovalPolicy) -> kms.Key:
    """The workers' notification topic key: SageMaker publishes the task notices."""
    key = kms.Key(
        scope,
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
            conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(scope).account}},
        )
    )
    return key
