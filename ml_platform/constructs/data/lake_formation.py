"""Lake Formation: who administers the lake, which locations it governs, and tag-based grants.

Lake Formation has L1 resources only, so this construct gives them `grant_*` methods: each grant
is a Lake Formation permission by LF-tag expression (never by named table) plus the IAM side
(Glue catalog reads scoped to the zone databases, and `lakeformation:GetDataAccess`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lakeformation as lf
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform.constructs.data.catalog import LakeCatalog
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.grant_acknowledgments import acknowledge_grants

ZONE_TAG = "zone"
SENSITIVITY_TAG = "sensitivity"
# Raw and curated events carry the pseudonymous customer id; features are encoded, no identifiers.
ZONE_SENSITIVITY = {"raw": "confidential", "curated": "confidential", "features": "internal"}

READ_TABLE = ("SELECT", "DESCRIBE")
WRITE_TABLE = ("SELECT", "INSERT", "DELETE", "ALTER", "DESCRIBE")
GLUE_READ_ACTIONS = ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                     "glue:GetTableVersion", "glue:GetTableVersions", "glue:GetPartition",
                     "glue:GetPartitions", "glue:BatchGetPartition"]
GLUE_WRITE_ACTIONS = ["glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable", "glue:CreatePartition",
                      "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:DeletePartition",
                      "glue:BatchDeletePartition"]


class LakeGovernance(Construct):
    """Data-lake settings, registered zone locations, LF-tags on the zone databases.

    Behaviour: `admin_arns` administer the lake (appended, so an existing administrator is kept);
    new databases and tables get NO default permissions, which removes IAMAllowedPrincipals: IAM
    policies alone never open a governed table. Each zone bucket is registered with a dedicated
    data-access role (not the service-linked role, so its KMS use is named in the lake key policy).
    Databases carry `zone` and `sensitivity` LF-tags; tables inherit them.
    """

    def __init__(self, scope: Construct, construct_id: str, *, catalog: LakeCatalog, region: str,
                 admin_arns: Sequence[str], buckets: Mapping[str, s3.IBucket],
                 data_access_role: iam.IRole) -> None:
        super().__init__(scope, construct_id)
        self.catalog = catalog
        self.region = region
        self.account = catalog.account
        self.settings = lf.CfnDataLakeSettings(
            self, "Settings",
            admins=[lf.CfnDataLakeSettings.DataLakePrincipalProperty(data_lake_principal_identifier=a)
                    for a in admin_arns] or None,
            mutation_type="APPEND",
            create_database_default_permissions=[],
            create_table_default_permissions=[],
        )
        for database in catalog.databases.values():
            database.add_resource_dependency(self.settings)
        self.locations = {}
        for zone, bucket in buckets.items():
            bucket.grant_read_write(data_access_role)
            location = lf.CfnResource(self, f"{zone.capitalize()}Location", resource_arn=bucket.bucket_arn,
                                      use_service_linked_role=False, role_arn=data_access_role.role_arn)
            location.add_resource_dependency(self.settings)
            self.locations[zone] = location
        # Every Lake Formation permission this construct creates, per stack in creation order, and
        # per grantee: each waits for the previous one of its stack (see `_serialized`).
        self._last_permission: dict[str, lf.CfnPrincipalPermissions] = {}
        self._permissions: dict[str, list[lf.CfnPrincipalPermissions]] = {}
        zones = list(catalog.databases)
        self.tags = {
            ZONE_TAG: lf.CfnTag(self, "ZoneTag", catalog_id=self.account, tag_key=ZONE_TAG, tag_values=zones),
            SENSITIVITY_TAG: lf.CfnTag(self, "SensitivityTag", catalog_id=self.account, tag_key=SENSITIVITY_TAG,
                                       tag_values=sorted(set(ZONE_SENSITIVITY.values()))),
        }
        for tag in self.tags.values():
            tag.add_resource_dependency(self.settings)
        for zone, database in catalog.databases.items():
            association = lf.CfnTagAssociation(
                self, f"{zone.capitalize()}DatabaseTags",
                lf_tags=[self._pair(ZONE_TAG, [zone]), self._pair(SENSITIVITY_TAG, [ZONE_SENSITIVITY[zone]])],
                resource=lf.CfnTagAssociation.ResourceProperty(
                    database=lf.CfnTagAssociation.DatabaseResourceProperty(
                        catalog_id=self.account, name=catalog.database_names[zone])))
            for dependency in (database, *self.tags.values()):
                association.add_resource_dependency(dependency)

    def _pair(self, key: str, values: list[str]) -> lf.CfnTagAssociation.LFTagPairProperty:
        return lf.CfnTagAssociation.LFTagPairProperty(catalog_id=self.account, tag_key=key, tag_values=values)

    # --- grants ---------------------------------------------------------------------------

    def grant_read(self, grantee: iam.IRole, *, zones: Sequence[str], scope: Construct | None = None) -> iam.Grant:
        """SELECT and DESCRIBE on every table of `zones` (by LF-tag), Glue reads on their catalog.

        The Lake Formation permissions are created under `scope` (default: the role itself, so they
        are deployed with and after it); pass a scope for a role imported by ARN.
        """
        return self._grant(grantee, scope, "Read", zones=zones, table=READ_TABLE, database=("DESCRIBE",),
                           actions=GLUE_READ_ACTIONS)

    def grant_read_write(self, grantee: iam.IRole, *, zones: Sequence[str],
                         scope: Construct | None = None) -> iam.Grant:
        """Read, write and create tables in `zones` (ETL jobs and crawlers)."""
        return self._grant(grantee, scope, "ReadWrite", zones=zones, table=WRITE_TABLE,
                           database=("DESCRIBE", "CREATE_TABLE"),
                           actions=GLUE_READ_ACTIONS + GLUE_WRITE_ACTIONS)

    def grant_describe(self, grantee: iam.IRole, *, zones: Sequence[str],
                       scope: Construct | None = None) -> iam.Grant:
        """Table metadata only (Firehose reads the raw table's schema for Parquet conversion)."""
        return self._grant(grantee, scope, "Describe", zones=zones, table=("DESCRIBE",), database=("DESCRIBE",),
                           actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTableVersion",
                                    "glue:GetTableVersions"])

    def grant_data_location(self, grantee: iam.IRole, *, zone: str, scope: Construct | None = None) -> None:
        """DATA_LOCATION_ACCESS on the zone's registered bucket: needed to create tables or partitions
        that point into a Lake Formation-registered location (a crawler does both)."""
        scope = self._scope(grantee, scope)
        permission = self._serialized(grantee, lf.CfnPrincipalPermissions(
            scope, "LakeFormationDataLocation", catalog=self.account,
            principal=lf.CfnPrincipalPermissions.DataLakePrincipalProperty(
                data_lake_principal_identifier=grantee.role_arn),
            resource=lf.CfnPrincipalPermissions.ResourceProperty(
                data_location=lf.CfnPrincipalPermissions.DataLocationResourceProperty(
                    catalog_id=self.account, resource_arn=self.locations[zone].resource_arn)),
            permissions=["DATA_LOCATION_ACCESS"], permissions_with_grant_option=[]))
        permission.node.add_dependency(self.locations[zone])

    def permissions_for(self, grantee: iam.IRole) -> list[lf.CfnPrincipalPermissions]:
        """The Lake Formation permissions granted to `grantee` so far (a consumer waits for them)."""
        return list(self._permissions.get(grantee.role_arn, []))

    def _serialized(self, grantee: iam.IRole, permission: lf.CfnPrincipalPermissions) -> lf.CfnPrincipalPermissions:
        """Order one permission: after the data-lake settings and LF-tags it names, and after the
        previous permission of the same stack. Lake Formation answers concurrent permission changes
        with ConcurrentModificationException; CloudFormation would otherwise create them in parallel.
        (Stacks with grants are ordered among themselves by the stage.)"""
        permission.node.add_dependency(self.settings, *self.tags.values())
        stack = cdk.Stack.of(permission).node.path
        previous = self._last_permission.get(stack)
        if previous is not None:
            permission.node.add_dependency(previous)
        self._last_permission[stack] = permission
        self._permissions.setdefault(grantee.role_arn, []).append(permission)
        return permission

    @staticmethod
    def _scope(grantee: iam.IRole, scope: Construct | None) -> Construct:
        # The permissions live beside the role (same stack), so they are created after it exists.
        if scope is None:
            if not isinstance(grantee, Construct):
                raise ValueError("pass `scope` when granting to a role imported by ARN")
            scope = grantee
        return scope

    def _grant(self, grantee: iam.IRole, scope: Construct | None, name: str, *, zones: Sequence[str], table: Sequence[str],
               database: Sequence[str], actions: list[str]) -> iam.Grant:
        unknown = set(zones) - set(self.catalog.databases)
        if unknown:
            raise ValueError(f"no catalog zone(s) {sorted(unknown)}")
        scope = self._scope(grantee, scope)
        for resource_type, permissions in (("DATABASE", database), ("TABLE", table)):
            self._serialized(grantee, lf.CfnPrincipalPermissions(
                scope, f"LakeFormation{name}{resource_type.capitalize()}s",
                catalog=self.account,
                principal=lf.CfnPrincipalPermissions.DataLakePrincipalProperty(
                    data_lake_principal_identifier=grantee.role_arn),
                resource=lf.CfnPrincipalPermissions.ResourceProperty(
                    lf_tag_policy=lf.CfnPrincipalPermissions.LFTagPolicyResourceProperty(
                        catalog_id=self.account, resource_type=resource_type,
                        expression=[lf.CfnPrincipalPermissions.LFTagProperty(
                            tag_key=ZONE_TAG, tag_values=list(zones))])),
                permissions=list(permissions),
                permissions_with_grant_option=[],
            ))
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=actions, resource_arns=self.catalog.arns(self.region, tuple(zones)))
        if isinstance(grantee, PlatformRole):
            acknowledge_grants(grantee, resources={
                f"Resource::{arn}": "Every table of the zone database, including those its crawler creates; "
                                    "Lake Formation then allows only tables whose LF-tags the grant names"
                for arn in self.catalog.arns(self.region, tuple(zones)) if arn.endswith("/*")})
        if set(table) & {"SELECT", "INSERT", "DELETE"}:
            # GetDataAccess has no resource-level permissions ("*" is the only resource IAM accepts);
            # Lake Formation then vends credentials only for what the LF grants above allow.
            grant = grant.combine(iam.Grant.add_to_principal(
                grantee=grantee, actions=["lakeformation:GetDataAccess"], resource_arns=["*"]))
        return grant
