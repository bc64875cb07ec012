"""Feature store stack: the feature groups, their streaming ingestion and offline compaction."""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constructs.data.athena import QueryWorkgroup
from ml_platform.constructs.data.catalog import EVENTS_PREFIX, LakeCatalog
from ml_platform.constructs.data.glue_jobs import GlueJobSettings
from ml_platform.constructs.data.glue_workflow import alert_on_failures
from ml_platform.constructs.data.lake import DataLake, bucket_ref
from ml_platform.constructs.data.lake_formation import LakeGovernance
from ml_platform.constructs.features.feature_group import FeatureGroup
from ml_platform.constructs.features.feature_jobs import FeatureJobs, FeatureJobSources
from ml_platform.constructs.features.offline_compaction import OfflineCompaction
from ml_platform.constructs.features.online_access import OnlineReadAccess
from ml_platform.constructs.features.stream_ingestion import StreamIngestion
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.constructs.operations.alerting import Alerting
from ml_platform.naming import Naming
from ml_platform.retention import retention
from ml_platform.stacks.base import PlatformStack

COMPACTION_RESULTS_PREFIX = "athena-results/"


class FeatureStoreStack(PlatformStack):
    """`<Env>/FeatureStore`: one FeatureGroup per configured group (retained, versioned names), the
    ingestion function on the event stream, the Iceberg compaction schedules with their Athena
    workgroup, the backfill and point-in-time Glue jobs (the latter in the ETL workflow named
    `etl_workflow_name` when training reads the store), and online reads for `online_reader_arns`."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, naming: Naming,
                 network: SecureVpc, lake: DataLake, catalog: LakeCatalog, governance: LakeGovernance,
                 stream: kinesis.IStream, lake_key: kms.IKey, streaming_key: kms.IKey, logs_key: kms.IKey,
                 removal_policy: cdk.RemovalPolicy, alerting: Alerting, etl_workflow_name: str,
                 curated_job_name: str, online_reader_arns: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = config.features
        features = bucket_ref(self, "FeaturesBucket", lake.features)
        database = catalog.database_names["features"]
        self.groups = [
            FeatureGroup(self, _construct_id(group.name), group=group, naming=naming, features_bucket=features,
                         lake_key=lake_key, database_name=database, governance=governance)
            for group in settings.groups]
        self.ingestion = None
        if any(g.ingestion.from_stream for g in settings.groups):
            self.ingestion = StreamIngestion(
                self, "Ingestion", groups=self.groups, stream=stream, settings=settings.ingestion, naming=naming,
                vpc=network.vpc, subnets=network.private_subnets, security_group=network.workload_security_group,
                streaming_key=streaming_key, logs_key=logs_key, log_retention=retention(config.log_retention_days),
                removal_policy=removal_policy, alerting=alerting)
        etl = config.etl
        self.jobs = FeatureJobs(
            self, "Jobs", groups=self.groups, settings=settings, naming=naming, network=network, lake_key=lake_key,
            logs_key=logs_key, governance=governance,
            job_settings=GlueJobSettings(glue_version=etl.glue_version, worker_type=etl.worker_type,
                                         number_of_workers=etl.number_of_workers, timeout_minutes=etl.timeout_minutes),
            sources=FeatureJobSources(
                buckets={z: bucket_ref(self, f"{z.capitalize()}Zone", lake.zones[z]) for z in ("curated", "artifacts")}
                | {"features": features}, curated_events_prefix=EVENTS_PREFIX, etl_workflow_name=etl_workflow_name,
                curated_job_name=curated_job_name, split_ratios=etl.split_ratios, minority_ratio=etl.minority_ratio))
        # Backfills run on demand and the training set after the ETL: a failed run reaches the topic.
        alert_on_failures(self, job_names=[job.name for job in (*self.jobs.backfill.values(), self.jobs.training_set)],
                          crawler_name=None, alerts_topic=alerting.topic)
        self.online_access = None
        if online_reader_arns:
            self.online_access = OnlineReadAccess(
                self, "OnlineReaders", groups=self.groups, role_arns=online_reader_arns,
                description="Feature Store online reads (GetRecord, BatchGetRecord) for inference enrichment")
        self.compaction = None
        if settings.compaction_schedule and any(g.offline_store for g in settings.groups):
            workgroup_name = naming.resource_name("features")
            workgroup = QueryWorkgroup(
                self, "CompactionQueries", name=workgroup_name, results_bucket=features, results_key=lake_key,
                bytes_scanned_cutoff_mb=config.analytics.athena_bytes_scanned_cutoff_mb * 100,
                region=config.region, account=config.account, recursive_delete=config.destroy_on_delete)
            self.compaction = OfflineCompaction(
                self, "Compaction", groups=self.groups, workgroup=workgroup, workgroup_name=workgroup_name,
                results_bucket_arn=features.bucket_arn,
                schedule=settings.compaction_schedule, naming=naming, governance=governance)


def _construct_id(name: str) -> str:
    """`customer-profile` -> `CustomerProfile` (construct IDs are PascalCase and stable)."""
    return "".join(part.capitalize() for part in name.split("-"))
