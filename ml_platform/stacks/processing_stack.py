"""Processing stack: Glue jobs raw -> curated -> training-ready, the features crawler, the workflow."""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from ml_platform.config import PlatformConfig
from ml_platform.constants import RolePurpose
from ml_platform.constructs.data.catalog import EVENT_SCHEMA_PATH, EVENTS_PREFIX, LakeCatalog
from ml_platform.constructs.data.emr_serverless import SparkApplication
from ml_platform.constructs.data.glue_jobs import (
    EtlModules,
    GlueJobRuntime,
    GlueJobSettings,
    GlueNetwork,
    GlueSecurity,
    GlueSparkJob,
    grant_glue_runtime,
)
from ml_platform.constructs.data.glue_workflow import EtlWorkflow, SchemaCrawler, alert_on_failures
from ml_platform.constructs.data.lake import DataLake, bucket_ref
from ml_platform.constructs.data.lake_formation import LakeGovernance
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.grant_acknowledgments import KMS, S3_READ, S3_READ_WRITE, acknowledge_grants, object_arns
from ml_platform.naming import Naming
from ml_platform.stacks.base import PlatformStack

# Prefixes of the jobs' outputs; glue_jobs/README.md documents the arguments they become.
REJECTED_PREFIX = "rejected/"
FEATURES_PREFIX = "datasets/"
GLUE_ARTIFACTS_PREFIX = "glue/"
STATS_KEY = f"{GLUE_ARTIFACTS_PREFIX}feature-stats/stats.json"
# SageMaker roles made by the training capability, granted by their stable names.
SAGEMAKER_ROLES = (RolePurpose.SAGEMAKER_PROCESSING, RolePurpose.SAGEMAKER_TRAINING)


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
        self.security = GlueSecurity(self, "GlueSecurity", name=naming.resource_name("glue"),
                                     data_key=lake_key, logs_key=logs_key, region=region, account=account)
        self.connection = GlueNetwork(
            self, "GlueNetwork", name=naming.resource_name("glue-vpc"), account=account, region=region,
            subnet=network.vpc.isolated_subnets[0], security_group=network.workload_security_group)
        self.etl_role = self._etl_role(naming, governance)
        modules = EtlModules(self, "EtlModules", schema_path=EVENT_SCHEMA_PATH)
        modules.grant_read(self.etl_role)
        settings = GlueJobSettings(glue_version=etl.glue_version, worker_type=etl.worker_type,
                                   number_of_workers=etl.number_of_workers, timeout_minutes=etl.timeout_minutes)
        raw, curated, features, artifacts = (f"s3://{b.bucket_name}/" for b in
                                             self.buckets.values())
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
        self.crawler_role = self._crawler_role(naming, governance)
        self.crawler = SchemaCrawler(
            self, "FeaturesCrawler", name=naming.resource_name("features-crawler"), role=self.crawler_role,
            database_name=catalog.database_names["features"], paths=[f"{features}{FEATURES_PREFIX}"],
            security=self.security)
        self.workflow = EtlWorkflow(
            self, "Workflow", name=naming.resource_name("etl"),
            job_names=[self.raw_to_curated.name, self.curated_to_features.name],
            crawler_name=self.crawler.name, schedule=etl.schedule_cron)
        for purpose in SAGEMAKER_ROLES:
            # The SageMaker capability owns these roles and their IAM policies; only the Lake
            # Formation side (by LF-tag) is granted here.
            name = purpose.title().replace("-", "")
            role = iam.Role.from_role_arn(self, f"{name}Role", naming.role_arn(purpose), mutable=False)
            governance.grant_read(role, zones=("curated", "features"), scope=Construct(self, f"{name}LakeAccess"))
        self.emr = None
        if etl.emr_serverless:
            self.emr = self._emr(naming, network, governance)
        if alerts_topic is not None:
            alert_on_failures(self, job_names=[self.raw_to_curated.name, self.curated_to_features.name],
                              crawler_name=self.crawler.name, alerts_topic=alerts_topic)

    def _etl_role(self, naming: Naming, governance: LakeGovernance) -> PlatformRole:
        role = PlatformRole(self, "EtlRole", role_name=naming.role_name(RolePurpose.GLUE_ETL),
                            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
                            description="Glue ETL jobs: raw -> curated -> features")
        acknowledge_grants(role, resources={
            "Resource::*": "EC2 Describe*/network-interface calls for the Glue VPC connection, "
                           "cloudwatch:PutMetricData (conditioned on the Glue namespace) and "
                           "lakeformation:GetDataAccess have no resource-level permissions"})
        self._grant_lake(role)
        self.security.grant_use(role)
        grant_glue_runtime(role, connection=self.connection, region=self.region, account=self.account)
        governance.grant_read(role, zones=("raw",))
        governance.grant_read_write(role, zones=("curated", "features"))
        self._acknowledge_glue_logs(role)
        return role

    def _grant_lake(self, role: PlatformRole) -> None:
        """Read raw, read/write curated and features, write Glue temp files and stats in artifacts."""
        b = self.buckets
        b["raw"].grant_read(role)
        b["curated"].grant_read_write(role)
        b["features"].grant_read_write(role)
        b["artifacts"].grant_read_write(role, f"{GLUE_ARTIFACTS_PREFIX}*")
        acknowledge_grants(role, actions=S3_READ_WRITE + KMS, resources={
            object_arns(b["raw"]): "The job reads every raw event object (its bookmark picks the new ones)",
            object_arns(b["curated"]): "Spark writes curated and rejected Parquet part files with generated names",
            object_arns(b["features"]): "Spark writes feature datasets and training CSV part files with "
                                        "generated names",
            object_arns(b["artifacts"], GLUE_ARTIFACTS_PREFIX): "Glue temp files and the feature statistics "
                                                                "artifact, under the glue/ prefix only"})

    def _acknowledge_glue_logs(self, role: PlatformRole) -> None:
        groups = f"arn:aws:logs:{self.region}:{self.account}:log-group:/aws-glue/*"
        acknowledge_grants(role, resources={
            f"Resource::{groups}": "Glue names its log groups per security configuration and role under "
                                   "/aws-glue/ (jobs, crawlers); the logs key is associated with them",
            f"Resource::{groups}:*": "Log streams of the /aws-glue/ log groups are named per run by Glue"})

    def _crawler_role(self, naming: Naming, governance: LakeGovernance) -> PlatformRole:
        role = PlatformRole(self, "CrawlerRole", role_name=naming.role_name(RolePurpose.GLUE_CRAWLER),
                            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
                            description="Glue crawler of the features zone")
        self.buckets["features"].grant_read(role, f"{FEATURES_PREFIX}*")
        self.security.grant_use(role)
        governance.grant_read_write(role, zones=("features",))
        # The features bucket is a registered location: creating its tables needs this too.
        governance.grant_data_location(role, zone="features")
        acknowledge_grants(role, actions=S3_READ + KMS, resources={
            object_arns(self.buckets["features"], FEATURES_PREFIX):
                "The crawler reads the feature datasets' Parquet part files, whose names Spark generates",
            "Resource::*": "lakeformation:GetDataAccess has no resource-level permissions; Lake Formation "
                           "vends credentials only for the features zone the crawler is granted"})
        self._acknowledge_glue_logs(role)
        return role

    def _emr(self, naming: Naming, network: SecureVpc, governance: LakeGovernance) -> SparkApplication:
        app = SparkApplication(self, "EmrServerless", name=naming.resource_name("spark"), vpc=network.vpc,
                               subnets=network.private_subnets, security_group=network.workload_security_group)
        role = PlatformRole(self, "EmrJobRole", role_name=naming.role_name(RolePurpose.EMR_SERVERLESS_JOB),
                            assumed_by=iam.ServicePrincipal("emr-serverless.amazonaws.com"),
                            description="EMR Serverless job runtime role for the ETL scripts")
        self._grant_lake(role)
        governance.grant_read(role, zones=("raw",))
        governance.grant_read_write(role, zones=("curated", "features"))
        acknowledge_grants(role, resources={
            "Resource::*": "lakeformation:GetDataAccess has no resource-level permissions; Lake Formation "
                           "vends credentials only for the zones this role is granted by LF-tag"})
        return app
