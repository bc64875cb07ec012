"""Names several capabilities share, typed in one place: role purposes, key domains, prefixes.

A capability that adds a role adds its purpose to `RolePurpose` (the stable role name is
`Naming.role_name(purpose)`) and, if the role uses a domain key, lists it in the stage's key users.
Members are `StrEnum`s: they are the strings CloudFormation and IAM see.
"""
from __future__ import annotations

from enum import StrEnum

import aws_cdk as cdk


class KeyDomain(StrEnum):
    """The data domains, one customer-managed KMS key each (`Security` stack)."""

    LAKE = "lake"
    MODELS = "models"
    LOGS = "logs"
    STREAMING = "streaming"

    @property
    def description(self) -> str:
        return _KEY_DOMAIN_DESCRIPTIONS[self]


_KEY_DOMAIN_DESCRIPTIONS = {
    KeyDomain.LAKE: "Data-lake zones raw, curated and features",
    KeyDomain.MODELS: "Model artifacts, code, reports and query results",
    KeyDomain.LOGS: "CloudWatch log groups (flow logs, Lambda, Glue, SageMaker)",
    KeyDomain.STREAMING: "Kinesis streams and Firehose delivery",
}


class RolePurpose(StrEnum):
    """What each platform role is for; its physical name is `<prefix>-<purpose>`."""

    # foundation
    VPC_FLOW_LOGS = "vpc-flow-logs"
    # data
    LAKE_FORMATION_DATA_ACCESS = "lake-formation-data-access"
    ANALYST = "analyst"
    STREAM_TRANSFORM = "stream-transform"
    STREAM_PRODUCER = "stream-producer"
    FIREHOSE_DELIVERY = "firehose-delivery"
    GLUE_ETL = "glue-etl"
    GLUE_CRAWLER = "glue-crawler"
    EMR_SERVERLESS_JOB = "emr-serverless-job"
    # training
    SAGEMAKER_PROCESSING = "sagemaker-processing"
    SAGEMAKER_TRAINING = "sagemaker-training"
    SAGEMAKER_PIPELINE = "sagemaker-pipeline"
    EVENTS_START_PIPELINE = "events-start-pipeline"
    # serving
    SAGEMAKER_MODEL = "sagemaker-model"
    ENDPOINT_DEPLOYER = "endpoint-deployer"
    ENDPOINT_PROXY = "endpoint-proxy"
    APIGATEWAY_CLOUDWATCH = "apigateway-cloudwatch"
    # features (one offline-store role per group besides: `feature-store-<group>`)
    FEATURE_INGESTION = "feature-ingestion"
    FEATURE_STORE_COMPACTION = "feature-store-compaction"
    FEATURE_BACKFILL = "feature-backfill"
    FEATURE_TRAINING_SET = "feature-training-set"
    # workspaces (Studio execution roles, one per persona)
    PERSONA_DATA_SCIENTIST = "persona-data-scientist"
    PERSONA_ML_ENGINEER = "persona-ml-engineer"
    PERSONA_LABELING_ADMIN = "persona-labeling-admin"
    PERSONA_AUDITOR = "persona-auditor"
    # labeling
    LABELING_GROUND_TRUTH = "labeling-ground-truth"
    LABELING_PRE_ANNOTATION = "labeling-pre-annotation"
    LABELING_CONSOLIDATION = "labeling-consolidation"
    LABELING_STEPS = "labeling-steps"
    LABELING_MODEL_JOBS = "labeling-model-jobs"
    LABELING_LAUNCHER = "labeling-launcher"
    LABELING_ACTIVE_LEARNING = "labeling-active-learning"
    LABELING_PORTAL_URLS = "labeling-portal-urls"
    # monitoring
    MONITORING_JOB = "monitoring-job"
    MONITORING_RUNNER = "monitoring-runner"
    MODEL_MONITOR = "model-monitor"
    # delivery (tooling account)
    DELIVERY_PIPELINE = "delivery-pipeline"
    DELIVERY_SYNTH = "delivery-synth"
    DELIVERY_PROMOTE = "delivery-promote-model"  # the post-Prod step's CodeBuild role
    DELIVERY_CHECK = "delivery-post-deploy-check"  # the post-deploy checks' CodeBuild role (every stage)
    # serving, assumed by the delivery pipeline's promote step (cross-account)
    MODEL_PROMOTION = "model-promotion"
    # assumed by the delivery pipeline's post-deploy check after each stage (cross-account)
    POST_DEPLOY_CHECK = "post-deploy-check"


# Where the SageMaker training pipeline writes everything it produces in the artifacts bucket
# (`pipelines/<pipeline name>/...`): its job roles, the registry's archives and the deployer read it.
PIPELINES_PREFIX = "pipelines"
# Where the endpoint's data capture lands in the artifacts bucket: serving writes it, monitoring reads it.
CAPTURE_PREFIX = "data-capture"

# The CDK bootstrap qualifier the stacks are synthesized for (the default synthesizer's).
BOOTSTRAP_QUALIFIER: str = cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER


def bootstrap_assets_bucket(account: str, region: str) -> str:
    """The CDK bootstrap file-assets bucket of `account`/`region` (where Lambda, Glue and training code land)."""
    return f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{account}-{region}"
