"""Catalog stack: Glue databases and tables, Lake Formation governance, the Athena workgroup."""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constants import RolePurpose
from ml_platform.constructs.data.athena import QueryWorkgroup
from ml_platform.constructs.data.catalog import CATALOG_ZONES, EventSchema, LakeCatalog
from ml_platform.constructs.data.lake import DataLake, bucket_ref
from ml_platform.constructs.data.lake_formation import LakeGovernance
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.grant_acknowledgments import KMS, S3_READ_WRITE, acknowledge_grants, object_arns
from ml_platform.naming import Naming
from ml_platform.stacks.base import PlatformStack

# Analysts see the curated and features zones; raw stays with the pipeline's roles.
ANALYST_ZONES = ("curated", "features")


class CatalogStack(PlatformStack):
    """`<Env>/Catalog`: what the lake contains and who may see it.

    Deployed before Ingestion (Firehose converts against the raw table) and Processing (whose
    roles receive Lake Formation grants by LF-tag, so the tags must exist first).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, naming: Naming,
                 lake: DataLake, models_key: kms.IKey, removal_policy: cdk.RemovalPolicy, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        buckets = {zone: bucket_ref(self, f"{zone.capitalize()}Bucket", lake.zones[zone]) for zone in CATALOG_ZONES}
        artifacts = bucket_ref(self, "ArtifactsBucket", lake.artifacts)
        self.catalog = LakeCatalog(self, "Catalog", account=config.account, prefix=naming.prefix,
                                   buckets=buckets, schema=EventSchema.load())
        data_access_role = PlatformRole(
            self, "LakeFormationDataAccessRole", role_name=naming.role_name(RolePurpose.LAKE_FORMATION_DATA_ACCESS),
            assumed_by=iam.ServicePrincipal("lakeformation.amazonaws.com"),
            description="Lake Formation reads and writes the registered zone buckets for governed queries")
        self.governance = LakeGovernance(
            self, "LakeFormation", catalog=self.catalog, region=config.region,
            admin_arns=config.analytics.lake_formation_admin_arns, buckets=buckets,
            data_access_role=data_access_role)
        self.workgroup = QueryWorkgroup(
            self, "Athena", name=naming.resource_name("analytics"), results_bucket=artifacts,
            results_key=models_key, bytes_scanned_cutoff_mb=config.analytics.athena_bytes_scanned_cutoff_mb,
            region=config.region, account=config.account, recursive_delete=config.destroy_on_delete)
        # Humans assume it through the account's identity provider; what it may read is decided by
        # Lake Formation (curated and features zones, by LF-tag).
        self.analyst_role = PlatformRole(
            self, "AnalystRole", role_name=naming.role_name(RolePurpose.ANALYST),
            assumed_by=iam.AccountPrincipal(config.account),
            description="Queries the curated and features zones through the Athena workgroup")
        self.workgroup.grant_query(self.analyst_role)
        self.governance.grant_read(self.analyst_role, zones=ANALYST_ZONES)
        acknowledge_grants(data_access_role, actions=S3_READ_WRITE + KMS, resources={
            object_arns(b): "Lake Formation vends credentials for any governed table of the zone, so its "
                            "registration role reads and writes the whole registered bucket"
            for b in buckets.values()})
        acknowledge_grants(self.analyst_role, actions=S3_READ_WRITE + KMS, resources={
            object_arns(artifacts, "athena-results/"): "Athena writes each query's results under a key "
                                                       "it generates below the workgroup's results prefix",
            "Resource::*": "lakeformation:GetDataAccess has no resource-level permissions; Lake Formation "
                           "vends credentials only for tables the analyst's LF-tag grants allow"})
