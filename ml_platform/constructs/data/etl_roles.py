"""The roles of the ETL (Glue jobs, the features crawler, EMR Serverless) and the lake access the
training capability's SageMaker roles get, each with the acknowledgments of its own grants.

Each builder creates its role directly in `scope` (the Processing stack): the construct IDs, and so
the logical IDs and role names, are the ones the stack always had.
"""
from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ml_platform.constants import RolePurpose
from ml_platform.constructs.data.emr_serverless import SparkApplication
from ml_platform.constructs.data.glue_jobs import GlueNetwork, GlueSecurity, grant_glue_runtime
from ml_platform.constructs.data.lake_formation import LakeGovernance
from ml_platform.constructs.foundation.network import SecureVpc
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.grant_acknowledgments import KMS, S3_READ, S3_READ_WRITE, acknowledge_grants, object_arns
from ml_platform.naming import Naming

GLUE_ARTIFACTS_PREFIX = "glue/"
FEATURES_PREFIX = "datasets/"
# SageMaker roles made by the training capability, granted by their stable names.
SAGEMAKER_ROLES = (RolePurpose.SAGEMAKER_PROCESSING, RolePurpose.SAGEMAKER_TRAINING)
GET_DATA_ACCESS = ("lakeformation:GetDataAccess has no resource-level permissions; Lake Formation vends "
                   "credentials only for the zones this role is granted by LF-tag")


@dataclass(frozen=True)
class EtlBuckets:
    """The zone buckets the ETL reads and writes (by literal name, `bucket_ref`)."""

    raw: s3.IBucket
    curated: s3.IBucket
    features: s3.IBucket
    artifacts: s3.IBucket


def grant_etl_lake(role: PlatformRole, buckets: EtlBuckets) -> None:
    """Read raw, read/write curated and features, write Glue temp files and stats in artifacts."""
    buckets.raw.grant_read(role)
    buckets.curated.grant_read_write(role)
    buckets.features.grant_read_write(role)
    buckets.artifacts.grant_read_write(role, f"{GLUE_ARTIFACTS_PREFIX}*")
    acknowledge_grants(role, actions=S3_READ_WRITE + KMS, resources={
        object_arns(buckets.raw): "The job reads every raw event object (its bookmark picks the new ones)",
        object_arns(buckets.curated): "Spark writes curated and rejected Parquet part files with generated names",
        object_arns(buckets.features): "Spark writes feature datasets and training CSV part files with "
                                       "generated names",
        object_arns(buckets.artifacts, GLUE_ARTIFACTS_PREFIX): "Glue temp files and the feature statistics "
                                                               "artifact, under the glue/ prefix only"})


def _acknowledge_glue_logs(role: PlatformRole) -> None:
    stack = cdk.Stack.of(role)
    groups = f"arn:aws:logs:{stack.region}:{stack.account}:log-group:/aws-glue/*"
    acknowledge_grants(role, resources={
        f"Resource::{groups}": "Glue names its log groups per security configuration and role under "
                               "/aws-glue/ (jobs, crawlers); the logs key is associated with them",
        f"Resource::{groups}:*": "Log streams of the /aws-glue/ log groups are named per run by Glue"})


def glue_etl_role(scope: Construct, *, naming: Naming, buckets: EtlBuckets, security: GlueSecurity,
                  connection: GlueNetwork, governance: LakeGovernance) -> PlatformRole:
    """`EtlRole`: the Glue jobs' role (lake zones, security configuration, VPC connection, LF-tags)."""
    stack = cdk.Stack.of(scope)
    role = PlatformRole(scope, "EtlRole", role_name=naming.role_name(RolePurpose.GLUE_ETL),
                        assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
                        description="Glue ETL jobs: raw -> curated -> features")
    acknowledge_grants(role, resources={
        "Resource::*": "EC2 Describe*/network-interface calls for the Glue VPC connection, "
                       "cloudwatch:PutMetricData (conditioned on the Glue namespace) and "
                       "lakeformation:GetDataAccess have no resource-level permissions"})
    grant_etl_lake(role, buckets)
    security.grant_use(role)
    grant_glue_runtime(role, connection=connection, region=stack.region, account=stack.account)
    governance.grant_read(role, zones=("raw",))
    governance.grant_read_write(role, zones=("curated", "features"))
    _acknowledge_glue_logs(role)
    return role


def crawler_role(scope: Construct, *, naming: Naming, features: s3.IBucket, security: GlueSecurity,
                 governance: LakeGovernance) -> PlatformRole:
    """`CrawlerRole`: the features crawler reads the datasets and creates their tables."""
    role = PlatformRole(scope, "CrawlerRole", role_name=naming.role_name(RolePurpose.GLUE_CRAWLER),
                        assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
                        description="Glue crawler of the features zone")
    features.grant_read(role, f"{FEATURES_PREFIX}*")
    security.grant_use(role)
    governance.grant_read_write(role, zones=("features",))
    # The features bucket is a registered location: creating its tables needs this too.
    governance.grant_data_location(role, zone="features")
    acknowledge_grants(role, actions=S3_READ + KMS, resources={
        object_arns(features, FEATURES_PREFIX):
            "The crawler reads the feature datasets' Parquet part files, whose names Spark generates",
        "Resource::*": "lakeformation:GetDataAccess has no resource-level permissions; Lake Formation "
                       "vends credentials only for the features zone the crawler is granted"})
    _acknowledge_glue_logs(role)
    return role


def grant_sagemaker_lake_read(scope: Construct, *, naming: Naming, governance: LakeGovernance) -> None:
    """Lake Formation read of the curated and features zones (by LF-tag) for the SageMaker roles.

    The training capability owns these roles and their IAM policies; only the Lake Formation side
    is granted here, under `<Name>LakeAccess` in `scope`."""
    for purpose in SAGEMAKER_ROLES:
        name = purpose.title().replace("-", "")
        role = iam.Role.from_role_arn(scope, f"{name}Role", naming.role_arn(purpose), mutable=False)
        governance.grant_read(role, zones=("curated", "features"), scope=Construct(scope, f"{name}LakeAccess"))


def emr_serverless(scope: Construct, *, naming: Naming, network: SecureVpc, buckets: EtlBuckets,
                   governance: LakeGovernance) -> SparkApplication:
    """`EmrServerless` and its `EmrJobRole`: the same ETL scripts on EMR Serverless, same lake access."""
    app = SparkApplication(scope, "EmrServerless", name=naming.resource_name("spark"), vpc=network.vpc,
                           subnets=network.private_subnets, security_group=network.workload_security_group)
    role = PlatformRole(scope, "EmrJobRole", role_name=naming.role_name(RolePurpose.EMR_SERVERLESS_JOB),
                        assumed_by=iam.ServicePrincipal("emr-serverless.amazonaws.com"),
                        description="EMR Serverless job runtime role for the ETL scripts")
    grant_etl_lake(role, buckets)
    governance.grant_read(role, zones=("raw",))
    governance.grant_read_write(role, zones=("curated", "features"))
    acknowledge_grants(role, resources={"Resource::*": GET_DATA_ACCESS})
    return app
