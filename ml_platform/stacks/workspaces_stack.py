"""Workspaces stack: persona roles and the VPC-only Studio domain with its user profiles."""
from __future__ import annotations

from typing import Any

from aws_cdk import aws_kms as kms
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.config_sections.workspaces import Persona
from ml_platform.config_sections.workspaces_lock import domain_name
from ml_platform.constants import RolePurpose
from ml_platform.constructs.data.athena import QueryWorkgroup
from ml_platform.constructs.data.lake import DataLake, bucket_ref
from ml_platform.constructs.data.lake_formation import LakeGovernance
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.constructs.training.model_registry import ModelRegistry
from ml_platform.constructs.workspaces.personas import PersonaResources, PersonaRoles, acknowledge_persona_grants
from ml_platform.constructs.workspaces.studio import StudioDomain
from ml_platform.naming import Naming
from ml_platform.stacks.base import PlatformStack


class WorkspacesStack(PlatformStack):
    """`<Env>/Workspaces`: who may do what (persona roles) and where they work (Studio)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, naming: Naming,
                 network: SecureVpc, lake: DataLake, models_key: kms.IKey, lake_key: kms.IKey,
                 governance: LakeGovernance, workgroup: QueryWorkgroup, registry: ModelRegistry,
                 training_pipeline_arn: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.personas = PersonaRoles(self, "Personas", naming=naming, resources=PersonaResources(
            governance=governance, workgroup=workgroup, registry=registry, training_pipeline_arn=training_pipeline_arn,
            job_role_arns=(naming.role_arn(RolePurpose.SAGEMAKER_TRAINING),
                           naming.role_arn(RolePurpose.SAGEMAKER_PROCESSING)),
            raw_bucket=bucket_ref(self, "RawBucket", lake.zones["raw"]), lake_key=lake_key))
        roles = self.personas.roles
        self.studio = StudioDomain(
            self, "Studio", name=domain_name(config), config=config.workspaces, vpc=network.vpc,
            subnets=network.vpc.isolated_subnets, endpoint_security_group=network.endpoint_security_group,
            key=models_key,
            sharing_bucket=bucket_ref(self, "ArtifactsBucket", lake.artifacts),
            default_role=roles[Persona.DATA_SCIENTIST],
            execution_roles={persona.value: role for persona, role in roles.items()})
        self.studio.attach_app_permissions(list(roles.values()))
        acknowledge_persona_grants(self.personas)
