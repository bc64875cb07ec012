"""Processing stack: Glue jobs raw -> curated -> training-ready, the features crawler, the workflow."""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constructs.data.catalog import EVENT_SCHEMA_PATH, EVENTS_PREFIX, LakeCatalog
from ml_platform.constructs.data.etl_roles import (
    FEATURES_PREFIX,
    GLUE_ARTIFACTS_PREFIX,
    EtlBuckets,
    crawler_role,
    emr_serverless,
    glue_etl_role,
    grant_sagemaker_lake_read,
)
from ml_platform.constructs.data.glue_jobs import (
    EtlModules,
    GlueJobRuntime,
    GlueJobSettings,
    GlueNetwork,
    GlueSecurity,
    GlueSparkJob,
)
from ml_platform.constructs.data.glue_workflow import EtlWorkflow, SchemaCrawler, alert_on_failures
from ml_platform.constructs.data.lake import DataLake, bucket_ref
from ml_platform.constructs.data.lake_formation import LakeGovernance
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.naming import Naming
from ml_platform.stacks.base import PlatformStack

# Prefixes of the jobs' outputs; glue_jobs/README.md documents the arguments they become.
REJECTED_PREFIX = "rejected/"
STATS_KEY = f"{GLUE_ARTIFACTS_PREFIX}feature-stats/stats.json"


class ProcessingStack(PlatformStack):
    """`<Env>/Processing`: the ETL that turns raw events into training-ready datasets."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig, naming: Naming,
                 network: SecureVpc, lake: DataLake, catalog: LakeCatalog, governance: LakeGovernance,
                 lake_key: kms.IKey, logs_key: kms.IKey, removal_policy: cdk.RemovalPolicy,
                 alerts_topic: sns.ITopic | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        etl, region, account = config.etl, config.region, config.account
        self.buckets = {zone: bucket_ref(self, f"{zone.capitalize()}Bucket", lake.zones[zone])
                        for zone in ("raw", "curated", "features", "artifacts")}
        zones = EtlBuckets(**self.buckets)
        self.security = GlueSecurity(self, "GlueSecurity", name=naming.resource_name("glue"),
                                     data_key=lake_key, logs_key=logs_key, region=region, account=account)
        self.connection = GlueNetwork(
            self, "GlueNetwork", name=naming.resource_name("glue-vpc"), account=account, region=region,
            subnet=network.vpc.isolated_subnets[0], security_group=network.workload_security_group)
        self.etl_role = glue_etl_role(self, naming=naming, buckets=zones, security=self.security,
                                      connection=self.connection, governance=governance)
        self._jobs(config, naming)
        self.crawler_role = crawler_role(self, naming=naming, features=zones.features, security=self.security,
                                         governance=governance)
        self.crawler = SchemaCrawler(
            self, "FeaturesCrawler", name=naming.resource_name("features-crawler"), role=self.crawler_role,
            database_name=catalog.database_names["features"],
            paths=[f"s3://{zones.features.bucket_name}/{FEATURES_PREFIX}"], security=self.security)
        self.workflow = EtlWorkflow(
            self, "Workflow", name=naming.resource_name("etl"),
            job_names=[self.raw_to_curated.name, self.curated_to_features.name],
            crawler_name=self.crawler.name, schedule=etl.schedule_cron)
        grant_sagemaker_lake_read(self, naming=naming, governance=governance)
        self.emr = None
        if etl.emr_serverless:
            self.emr = emr_serverless(self, naming=naming, network=network, buckets=zones, governance=governance)
        if alerts_topic is not None:
            alert_on_failures(self, job_names=[self.raw_to_curated.name, self.curated_to_features.name],
                              crawler_name=self.crawler.name, alerts_topic=alerts_topic)

    def _jobs(self, config: PlatformConfig, naming: Naming) -> None:
        """The two Glue jobs: raw -> curated, curated -> features (and the training CSV channels)."""
        etl = config.etl
        modules = EtlModules(self, "EtlModules", schema_path=EVENT_SCHEMA_PATH)
        modules.grant_read(self.etl_role)
        settings = GlueJobSettings(glue_version=etl.glue_version, worker_type=etl.worker_type,
                                   number_of_workers=etl.number_of_workers, timeout_minutes=etl.timeout_minutes)
        raw, curated, features, artifacts = (f"s3://{b.bucket_name}/" for b in self.buckets.values())
        runtime = GlueJobRuntime(role=self.etl_role, settings=settings, security=self.security,
                                 connection=self.connection, modules=modules,
                                 temp_dir=f"{artifacts}{GLUE_ARTIFACTS_PREFIX}temp/")
        self.raw_to_curated = GlueSparkJob(
            self, "RawToCurated", name=naming.resource_name("raw-to-curated"), script="raw_to_curated.py",
            description="Raw events -> typed, validated, deduplicated curated Parquet by event_date",
            arguments={"source_path": f"{raw}{EVENTS_PREFIX}", "source_format": "parquet",
                       "target_path": f"{curated}{EVENTS_PREFIX}", "rejected_path": f"{curated}{REJECTED_PREFIX}",
                       "schema_path": modules.schema.s3_object_url, "write_mode": "append"},
            runtime=runtime)
        self.curated_to_features = GlueSparkJob(
            self, "CuratedToFeatures", name=naming.resource_name("curated-to-features"),
            script="curated_to_features.py",
            description="Curated events -> split, encoded, resampled training-ready features",
            arguments={"source_path": f"{curated}{EVENTS_PREFIX}", "target_path": f"{features}{FEATURES_PREFIX}",
                       # The training capability reads the label-first CSV channels from here.
                       "csv_output_path": f"{features}{config.training.training_ready_prefix}",
                       "stats_path": f"{artifacts}{STATS_KEY}",
                       "split_ratios": ",".join(str(r) for r in etl.split_ratios),
                       "minority_ratio": str(etl.minority_ratio)},
            # glue_jobs/README.md: it reads the whole curated zone every run, so no bookmark.
            bookmarks=False, runtime=runtime)
