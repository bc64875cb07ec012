"""One SageMaker Feature Store feature group from configuration (AWS::SageMaker::FeatureGroup, L1 only).

Behaviour:
- the name is `<prefix>-<name>-v<version>`; the group is RETAINED on delete and on replacement
  (its offline data and its name outlive the stack; a create-only change needs a version bump,
  which config/feature_groups.lock.json enforces at synth);
- the online store (when on) is Standard storage, encrypted with the lake key, with the TTL from
  config; the offline store is an Iceberg table in the features zone (`feature-store/` prefix),
  SSE-KMS with the lake key, its Glue table in the features database (catalog `AwsDataCatalog`),
  where the database's LF-tags (zone=features) govern it like every other table;
- the offline store role is the group's own: S3 only under the group's prefix, Glue only on its
  table, the lake key, and Lake Formation CREATE_TABLE plus DATA_LOCATION_ACCESS on the zone (the
  AWS managed AmazonSageMakerFeatureStoreAccess policy only matches buckets named `*sagemaker*`).

Grants return iam.Grant with the group's ARN: `grant_write` (PutRecord), `grant_read_online`
(GetRecord, BatchGetRecord) and `grant_read_offline` (S3, Glue, Lake Formation, the key).
"""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lakeformation as lf
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from ml_platform.config_sections.features import FeatureGroupConfig
from ml_platform.constructs.data.lake_formation import LakeGovernance
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.grant_acknowledgments import acknowledge_grants
from ml_platform.naming import Naming

OFFLINE_PREFIX = "feature-store"
DATA_CATALOG = "AwsDataCatalog"
# What the caller of CreateFeatureGroup needs on the online store's key (OnlineStoreSecurityConfig,
# SageMaker API reference); CloudFormation's execution role is that caller.
CREATE_FEATURE_GROUP_KMS_ACTIONS = [
    "kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:RetireGrant", "kms:ReEncryptFrom",
    "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:ListAliases", "kms:ListGrants", "kms:RevokeGrant"]


GET_DATA_ACCESS_REASON = ("lakeformation:GetDataAccess has no resource-level permissions ('*' is the only resource "
                          "IAM accepts); Lake Formation then vends credentials only for what its grants allow")


def feature_group_creator_statement(creator_role_arn: str) -> iam.PolicyStatement:
    """Key-policy statement for the lake key: CloudFormation's execution role may use the key for
    CreateFeatureGroup (the online store's SecurityConfig), through SageMaker only."""
    return iam.PolicyStatement(
        sid="FeatureStoreCreateFeatureGroup", principals=[iam.AccountRootPrincipal()],
        actions=CREATE_FEATURE_GROUP_KMS_ACTIONS, resources=["*"],
        conditions={"ArnEquals": {"aws:PrincipalArn": creator_role_arn}})


class FeatureGroup(Construct):
    """A versioned, retained feature group with KMS on both stores and its own offline-store role."""

    def __init__(self, scope: Construct, construct_id: str, *, group: FeatureGroupConfig, naming: Naming,
                 features_bucket: s3.IBucket, lake_key: kms.IKey, database_name: str,
                 governance: LakeGovernance) -> None:
        super().__init__(scope, construct_id)
        self.config = group
        self.name = group.physical_name(naming.prefix)
        self.table_name = group.table_name(naming.prefix)
        self.database_name = database_name
        self.arn = f"arn:aws:sagemaker:{naming.region}:{naming.account}:feature-group/{self.name}"
        self.bucket, self.key = features_bucket, lake_key
        self._governance, self._naming = governance, naming
        # Feature Store writes <S3Uri>/<account>/sagemaker/<region>/offline-store/<name>-<time>/...
        self.offline_prefix = f"{OFFLINE_PREFIX}/{group.name}/"
        self.offline_role = self._offline_role(group) if group.offline_store else None
        self.resource = sagemaker.CfnFeatureGroup(
            self, "Resource", feature_group_name=self.name, description=group.description,
            record_identifier_feature_name=group.record_identifier,
            event_time_feature_name=group.event_time_feature,
            feature_definitions=[sagemaker.CfnFeatureGroup.FeatureDefinitionProperty(
                feature_name=f.name, feature_type=f.type) for f in group.features],
            online_store_config=self._online_store(group),
            offline_store_config=self._offline_store() if group.offline_store else None,
            role_arn=self.offline_role.role_arn if self.offline_role else None)
        # Retained on delete AND on replacement: the offline data and the name must survive both.
        self.resource.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.resource.cfn_options.update_replace_policy = cdk.CfnDeletionPolicy.RETAIN
        if self.offline_role is not None:
            # The role's policy and Lake Formation grants, not just the role, must exist first.
            self.resource.node.add_dependency(self.offline_role.grants_policy)
            for child in self.node.find_all():
                if isinstance(child, lf.CfnPrincipalPermissions):
                    self.resource.add_resource_dependency(child)

    def _online_store(self, group: FeatureGroupConfig) -> dict[str, object]:
        # CfnFeatureGroup types both store configs as JSON: CloudFormation's own (PascalCase) keys.
        online = group.online_store
        if not online.enabled:
            return {"EnableOnlineStore": False}
        config: dict[str, object] = {"EnableOnlineStore": True, "StorageType": online.storage_type,
                                     "SecurityConfig": {"KmsKeyId": self.key.key_arn}}
        if online.ttl_value is not None:
            config["TtlDuration"] = {"Unit": online.ttl_unit, "Value": online.ttl_value}
        return config

    def _offline_store(self) -> dict[str, object]:
        return {
            "S3StorageConfig": {"S3Uri": f"s3://{self.bucket.bucket_name}/{self.offline_prefix.rstrip('/')}",
                                "KmsKeyId": self.key.key_arn},
            "DisableGlueTableCreation": False,
            "DataCatalogConfig": {"Catalog": DATA_CATALOG, "Database": self.database_name,
                                  "TableName": self.table_name},
            "TableFormat": "Iceberg",
        }

    def _offline_role(self, group: FeatureGroupConfig) -> PlatformRole:
        role = PlatformRole(self, "OfflineStoreRole", role_name=self._naming.role_name(f"feature-store-{group.name}"),  # offline_store_role_purpose
                            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                            description=f"Feature Store writes the offline store of {group.name} (Iceberg)")
        self._offline_data_access(role, write=True)
        glue_arns = self.glue_arns()
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="OfflineStoreTable", actions=["glue:GetDatabase", "glue:GetTable", "glue:CreateTable",
                                              "glue:UpdateTable", "glue:GetTableVersion", "glue:GetTableVersions"],
            resources=glue_arns))
        # Creating the table in the governed features database, at a registered location.
        lf.CfnPrincipalPermissions(
            self, "OfflineStoreCreateTable", catalog=self._naming.account,
            principal=lf.CfnPrincipalPermissions.DataLakePrincipalProperty(data_lake_principal_identifier=role.role_arn),
            resource=lf.CfnPrincipalPermissions.ResourceProperty(database=lf.CfnPrincipalPermissions.DatabaseResourceProperty(
                catalog_id=self._naming.account, name=self.database_name)),
            permissions=["CREATE_TABLE", "DESCRIBE"], permissions_with_grant_option=[])
        lf.CfnPrincipalPermissions(
            self, "OfflineStoreDataLocation", catalog=self._naming.account,
            principal=lf.CfnPrincipalPermissions.DataLakePrincipalProperty(data_lake_principal_identifier=role.role_arn),
            resource=lf.CfnPrincipalPermissions.ResourceProperty(
                data_location=lf.CfnPrincipalPermissions.DataLocationResourceProperty(
                    catalog_id=self._naming.account, resource_arn=self.bucket.bucket_arn)),
            permissions=["DATA_LOCATION_ACCESS"], permissions_with_grant_option=[])
        self._governance.grant_read_write(role, zones=("features",))
        acknowledge_grants(role, resources={
            "Resource::*": GET_DATA_ACCESS_REASON,
            f"Resource::{self.bucket.bucket_arn}/{self.offline_prefix}*":
                "Feature Store names the offline store's data and Iceberg metadata objects itself (account, "
                "region, group name and creation time, then partition and file ids) under this group's prefix"})
        return role

    def glue_arns(self) -> list[str]:
        """The Glue catalog, the features database and this group's offline-store table."""
        base = f"arn:aws:glue:{self._naming.region}:{self._naming.account}"
        return [f"{base}:catalog", f"{base}:database/{self.database_name}",
                f"{base}:table/{self.database_name}/{self.table_name}"]

    def _offline_data_access(self, grantee: iam.IGrantable, *, write: bool) -> iam.Grant:
        objects = f"{self.bucket.bucket_arn}/{self.offline_prefix}*"
        actions = ["s3:GetObject"] + (["s3:PutObject", "s3:DeleteObject", "s3:PutObjectAcl"] if write else [])
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=actions, resource_arns=[objects])
        grant = grant.combine(iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketAcl"],
            resource_arns=[self.bucket.bucket_arn]))
        key_actions = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:GenerateDataKey", "kms:Encrypt"] if write else [])
        return grant.combine(iam.Grant.add_to_principal(grantee=grantee, actions=key_actions,
                                                        resource_arns=[self.key.key_arn]))

    # --- grants -------------------------------------------------------------------------------

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """PutRecord on this group (and kms:Decrypt, which data-plane calls need on the online key)."""
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=["sagemaker:PutRecord"], resource_arns=[self.arn])
        return grant.combine(iam.Grant.add_to_principal(grantee=grantee, actions=["kms:Decrypt"],
                                                        resource_arns=[self.key.key_arn]))

    def grant_read_online(self, grantee: iam.IGrantable) -> iam.Grant:
        """GetRecord and BatchGetRecord on this group (and kms:Decrypt on the online key)."""
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=["sagemaker:GetRecord", "sagemaker:BatchGetRecord"],
                                           resource_arns=[self.arn])
        return grant.combine(iam.Grant.add_to_principal(grantee=grantee, actions=["kms:Decrypt"],
                                                        resource_arns=[self.key.key_arn]))

    def grant_read_offline(self, grantee: iam.IRole, *, scope: Construct, lake_formation: bool = True) -> iam.Grant:
        """The offline store's objects, its Glue table, and Lake Formation SELECT/DESCRIBE on the
        features zone (by LF-tag, as every lake grant is; created under `scope`). `lake_formation=False`
        for a grantee that already holds SELECT on the features zone (one grant per role and LF-tag
        expression: reading several groups must not repeat it)."""
        grant = self._offline_data_access(grantee, write=False)
        grant = grant.combine(iam.Grant.add_to_principal(
            grantee=grantee, actions=["glue:GetDatabase", "glue:GetTable", "glue:GetTableVersion",
                                      "glue:GetTableVersions", "glue:GetPartitions"], resource_arns=self.glue_arns()))
        if not lake_formation:
            return grant
        return grant.combine(self._governance.grant_read(grantee, zones=("features",), scope=scope))
