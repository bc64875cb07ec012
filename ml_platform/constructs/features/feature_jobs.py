"""The feature store's Glue jobs: a backfill per group and the point-in-time training set.

Behaviour (both run like the ETL's jobs, `constructs/data/glue_jobs.py`): PySpark on the
environment's Glue version and capacity, in the isolated subnets through a NETWORK connection of
their own, under a security configuration of their own (S3 SSE-KMS with the lake key, logs with
the logs key, bookmarks CSE-KMS), no bookmarks (the backfill's ledger and the point-in-time job's
full read make re-runs exact), one run at a time, no automatic retry, each with its own role:
- `<prefix>-backfill-<group>` (on demand): curated events -> PutRecord on the group through the
  Feature Store runtime endpoint; its ledger and rejected rows under `feature-store-backfill/`;
  the role gets the groups' `grant_write`;
- `<prefix>-feature-training-set`: labels from the curated zone, features from every offline
  store as of each label's time (Iceberg through the Glue catalog), written as the ETL's training
  channels under `features.training_set_prefix`; the role gets the groups' `grant_read_offline`.
  With `features.training_source: feature_store` a trigger in the ETL workflow starts it when
  `raw_to_curated` succeeds, and its `_SUCCESS` marker starts the training pipeline.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform.config_sections.features import FeaturesConfig
from ml_platform.constants import RolePurpose
from ml_platform.constructs.data.catalog import EVENT_SCHEMA_PATH
from ml_platform.constructs.data.glue_jobs import (
    EtlModules,
    GlueJobRuntime,
    GlueJobSettings,
    GlueNetwork,
    GlueSecurity,
    GlueSparkJob,
    grant_glue_runtime,
)
from ml_platform.constructs.data.lake import grant_prefix_read, grant_prefix_read_write
from ml_platform.constructs.data.lake_formation import LakeGovernance
from ml_platform.constructs.features.feature_group import OFFLINE_PREFIX, FeatureGroup
from ml_platform.constructs.features.stream_ingestion import feature_target
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.grant_acknowledgments import acknowledge_grants
from ml_platform.naming import Naming

BACKFILL_PREFIX = "feature-store-backfill/"
TRAINING_SET_DATASETS_PREFIX = "datasets-from-store/"
GLUE_PREFIX = "glue/"
TRAINING_SET_STATS_KEY = f"{GLUE_PREFIX}feature-store-stats/stats.json"
ICEBERG_CATALOG = "glue_catalog"
RUNTIME_REASON = ("EC2 Describe*/network-interface calls for the Glue VPC connection, cloudwatch:PutMetricData "
                  "(conditioned on the Glue namespace) and lakeformation:GetDataAccess have no resource-level "
                  "permissions")


@dataclass(frozen=True)
class FeatureJobSources:
    """Where the jobs read and write: the zone buckets (curated, features, artifacts) by their
    stable names, the curated events prefix, and the ETL workflow the training-set job joins."""

    buckets: Mapping[str, s3.IBucket]
    curated_events_prefix: str
    etl_workflow_name: str
    curated_job_name: str
    split_ratios: tuple[float, float, float]
    minority_ratio: float


def iceberg_conf(warehouse: str) -> str:
    """Glue's `--conf` value for reading the offline stores' Iceberg tables through the Glue Data
    Catalog as `glue_catalog.<database>.<table>` (AWS Glue, "Using the Iceberg framework"). The
    job reads with its own role's S3 and KMS grants; Lake Formation answers the catalog calls."""
    settings = [("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"),
                (f"spark.sql.catalog.{ICEBERG_CATALOG}", "org.apache.iceberg.spark.SparkCatalog"),
                (f"spark.sql.catalog.{ICEBERG_CATALOG}.warehouse", warehouse),
                (f"spark.sql.catalog.{ICEBERG_CATALOG}.catalog-impl", "org.apache.iceberg.aws.glue.GlueCatalog"),
                (f"spark.sql.catalog.{ICEBERG_CATALOG}.io-impl", "org.apache.iceberg.aws.s3.S3FileIO")]
    return " --conf ".join(f"{k}={v}" for k, v in settings)


def training_set_groups(groups: Sequence[FeatureGroup]) -> list[dict[str, object]]:
    """`--feature_groups` of the point-in-time job: each offline store that provides training columns."""
    return [{"table": f"{ICEBERG_CATALOG}.{g.database_name}.{g.table_name}",
             "record_identifier": g.config.record_identifier, "event_time_feature": g.config.event_time_feature,
             "join_key": g.config.join_key, "features": g.config.training_columns}
            for g in groups if g.config.training_columns]


class FeatureJobs(Construct):
    """Backfill jobs (one per group) and the point-in-time training-set job, with their roles."""

    def __init__(self, scope: Construct, construct_id: str, *, groups: Sequence[FeatureGroup],
                 settings: FeaturesConfig, job_settings: GlueJobSettings, sources: FeatureJobSources,
                 naming: Naming, network: SecureVpc, lake_key: kms.IKey, logs_key: kms.IKey,
                 governance: LakeGovernance) -> None:
        super().__init__(scope, construct_id)
        self._naming, self._sources, self._governance = naming, sources, governance
        self.security = GlueSecurity(self, "Security", name=naming.resource_name("glue-features"), data_key=lake_key,
                                     logs_key=logs_key, region=naming.region, account=naming.account)
        self.connection = GlueNetwork(
            self, "Network", name=naming.resource_name("glue-features-vpc"), account=naming.account,
            region=naming.region, subnet=network.vpc.isolated_subnets[0], security_group=network.workload_security_group)
        self.modules = EtlModules(self, "Modules", schema_path=EVENT_SCHEMA_PATH)
        self._settings = job_settings
        self.backfill_role = self._role(RolePurpose.FEATURE_BACKFILL, "Glue: backfills feature groups from curated")
        b = sources.buckets
        grant_prefix_read_write(b["features"], self.backfill_role, BACKFILL_PREFIX,
                                "The backfill appends its ledger and rejected rows as Spark part files")
        self.backfill = {g.config.name: self._backfill(g) for g in groups}
        self.training_set_role = self._role(RolePurpose.FEATURE_TRAINING_SET,
                                            "Glue: point-in-time training set from the offline stores")
        offline = [g for g in groups if g.config.offline_store]
        for group in offline:
            group.grant_read_offline(self.training_set_role, scope=Construct(self, f"{group.node.id}OfflineRead"))
            acknowledge_grants(self.training_set_role, resources={
                f"Resource::{group.bucket.bucket_arn}/{group.offline_prefix}*":
                    "Iceberg reads the metadata and data files of this group's offline store, whose names Feature "
                    "Store and Iceberg generate"})
        self.training_set = self._training_set(offline, settings)
        self.trigger = None
        if settings.training_source == "feature_store":
            # Labels come from the curated zone: the set is built once raw_to_curated has succeeded.
            self.trigger = glue.CfnTrigger(
                self, "AfterCurated", workflow_name=sources.etl_workflow_name, type="CONDITIONAL",
                start_on_creation=True, description="Point-in-time training set once the curated zone is updated",
                predicate=glue.CfnTrigger.PredicateProperty(logical="AND", conditions=[glue.CfnTrigger.ConditionProperty(
                    job_name=sources.curated_job_name, logical_operator="EQUALS", state="SUCCEEDED")]),
                actions=[glue.CfnTrigger.ActionProperty(job_name=self.training_set.name)])
            self.trigger.add_dependency(self.training_set.job)

    def _role(self, purpose: RolePurpose, description: str) -> PlatformRole:
        role = PlatformRole(self, f"{purpose.title().replace('-', '')}Role", role_name=self._naming.role_name(purpose),
                            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"), description=description)
        b = self._sources.buckets
        grant_prefix_read(b["curated"], role, self._sources.curated_events_prefix,
                          "The job reads every curated event object (Parquet part files named by Spark)")
        grant_prefix_read_write(b["artifacts"], role, GLUE_PREFIX,
                                "Glue temp files and the training-set statistics, under the glue/ prefix only")
        self.security.grant_use(role)
        self.modules.grant_read(role)
        grant_glue_runtime(role, connection=self.connection, region=self._naming.region,
                           account=self._naming.account)
        # As every ETL job: the curated zone by LF-tag (the jobs read it by S3 path).
        self._governance.grant_read(role, zones=("curated",))
        logs = f"arn:aws:logs:{self._naming.region}:{self._naming.account}:log-group:/aws-glue/*"
        acknowledge_grants(role, resources={
            "Resource::*": RUNTIME_REASON,
            f"Resource::{logs}": "Glue names its log groups per security configuration and role under /aws-glue/",
            f"Resource::{logs}:*": "Log streams of the /aws-glue/ log groups are named per run by Glue"})
        return role

    def _runtime(self, role: PlatformRole) -> GlueJobRuntime:
        artifacts = self._sources.buckets["artifacts"].bucket_name
        return GlueJobRuntime(role=role, settings=self._settings, security=self.security, connection=self.connection,
                              modules=self.modules, temp_dir=f"s3://{artifacts}/{GLUE_PREFIX}temp/")

    def _backfill(self, group: FeatureGroup) -> GlueSparkJob:
        group.grant_write(self.backfill_role)
        b, name = self._sources.buckets, f"{group.config.name}-v{group.config.version}"
        state = f"s3://{b['features'].bucket_name}/{BACKFILL_PREFIX}{name}"
        return GlueSparkJob(
            self, f"Backfill{group.node.id}", name=self._naming.resource_name(f"backfill-{group.config.name}"),
            script="curated_to_feature_store.py", runtime=self._runtime(self.backfill_role), bookmarks=False,
            description=f"Curated events -> PutRecord on {group.name} (idempotent by identifier and event time)",
            arguments={"source_path": f"s3://{b['curated'].bucket_name}/{self._sources.curated_events_prefix}",
                       "feature_target": json.dumps(feature_target(group), separators=(",", ":")),
                       "ledger_path": f"{state}/ledger/", "rejected_path": f"{state}/rejected/"})

    def _training_set(self, groups: Sequence[FeatureGroup], settings: FeaturesConfig) -> GlueSparkJob:
        b, role = self._sources.buckets, self.training_set_role
        features = b["features"].bucket_name
        for prefix in (settings.training_set_prefix, TRAINING_SET_DATASETS_PREFIX):
            grant_prefix_read_write(b["features"], role, prefix,
                                    "Spark writes the training set's Parquet and CSV part files with generated names")
        return GlueSparkJob(
            self, "TrainingSet", name=self._naming.resource_name("feature-training-set"),
            script="feature_store_to_training.py", runtime=self._runtime(role), bookmarks=False,
            description="Labels + offline-store features as of each label's time -> training channels",
            arguments={"labels_path": f"s3://{b['curated'].bucket_name}/{self._sources.curated_events_prefix}",
                       "feature_groups": json.dumps(training_set_groups(groups), separators=(",", ":")),
                       "target_path": f"s3://{features}/{TRAINING_SET_DATASETS_PREFIX}",
                       "csv_output_path": f"s3://{features}/{settings.training_set_prefix}",
                       "stats_path": f"s3://{b['artifacts'].bucket_name}/{TRAINING_SET_STATS_KEY}",
                       "split_ratios": ",".join(str(r) for r in self._sources.split_ratios),
                       "minority_ratio": str(self._sources.minority_ratio),
                       "datalake-formats": "iceberg",
                       "conf": iceberg_conf(f"s3://{features}/{OFFLINE_PREFIX}/")})
