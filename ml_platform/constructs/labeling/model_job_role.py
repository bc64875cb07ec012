"""The role of the active-learning SageMaker jobs (training, model, batch transform)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ml_platform.constructs.foundation.keys import volume_key_grants_statement
from ml_platform.constructs.foundation.network_interfaces import EniPlacement, EniService, grant_network_interfaces
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.constructs.foundation.sagemaker_job_logs import grant_job_logs
from ml_platform.constructs.training.xgboost_image import XGBOOST_REPOSITORY, xgboost_image_account


class ModelJobRole(Construct):
    """Reads and writes the run prefix only, pulls the XGBoost image, reads the code bundle."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        curated_bucket: str,
        prefix: str,
        lake_key: kms.IKey,
        region: str,
        account: str,
        placement: EniPlacement,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = PlatformRole(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Active-learning training and batch-transform jobs",
        )
        run_objects = f"arn:aws:s3:::{curated_bucket}/{prefix}*"
        self._grant_run_prefix(run_objects, curated_bucket, prefix)
        self._grant_key_use(lake_key)
        self._grant_job_runtime(region, account)
        self._acknowledge(run_objects)
        # The jobs run in the VPC: their network interfaces only in `placement`.
        grant_network_interfaces(self.role, service=EniService.SAGEMAKER, placement=placement)

    def _grant_run_prefix(self, run_objects: str, curated_bucket: str, prefix: str) -> None:
        """Objects under the active-learning prefix: each run's channels, models and predictions."""
        add = self.role.add_to_principal_policy
        # Model artifacts and predictions are uploaded in parts; a failed upload is aborted.
        add(
            iam.PolicyStatement(
                sid="RunPrefix",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[run_objects],
            )
        )
        add(
            iam.PolicyStatement(
                sid="ListRunPrefix",
                actions=["s3:ListBucket"],
                resources=[f"arn:aws:s3:::{curated_bucket}"],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )

    def _grant_key_use(self, lake_key: kms.IKey) -> None:
        """The lake key on the run's objects, and on the jobs' volumes through grants SageMaker creates."""
        lake_key.grant(self.role, "kms:Decrypt", "kms:GenerateDataKey")
        self.role.add_to_principal_policy(volume_key_grants_statement(lake_key.key_arn))

    def _grant_job_runtime(self, region: str, account: str) -> None:
        """What a job's container needs to start and report: the XGBoost image, metrics, logs."""
        add = self.role.add_to_principal_policy
        image_repo = f"arn:aws:ecr:{region}:{xgboost_image_account(region)}:repository/{XGBOOST_REPOSITORY}"
        add(
            iam.PolicyStatement(
                sid="PullXgboostImage",
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources=[image_repo],
            )
        )
        # GetAuthorizationToken and PutMetricData have no resource-level form.
        add(
            iam.PolicyStatement(
                sid="JobRuntime",
                resources=["*"],
                actions=[
                    "ecr:GetAuthorizationToken",
                    "cloudwatch:PutMetricData",
                ],
            )
        )
        grant_job_logs(self.role, sid="JobLogs", region=region, account=account,
                       groups=("TrainingJobs", "TransformJobs"))

    def _acknowledge(self, run_objects: str) -> None:
        """The IAM5 findings of the grants above, each with why its wildcard is needed."""
        for resource, why in (
            (run_objects, "each run's channels, models and predictions are created per round"),
            ("*", "ECR token, metrics and VPC ENI actions have no resource-level form"),
        ):
            self.role.acknowledge_wildcard(f"Resource::{resource}", why)
