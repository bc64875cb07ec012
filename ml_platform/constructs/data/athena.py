"""The Athena workgroup analysts query the lake through."""
from __future__ import annotations

from aws_cdk import aws_athena as athena
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

RESULTS_PREFIX = "athena-results/"


class QueryWorkgroup(Construct):
    """An Athena workgroup whose settings clients cannot override.

    Behaviour: results go to `results_bucket` under `athena-results/`, SSE-KMS with
    `results_key`; the workgroup configuration is enforced (a client cannot send results
    elsewhere or unencrypted); a query stops after `bytes_scanned_cutoff_mb`; metrics are
    published to CloudWatch; deleting the workgroup deletes its saved queries only when the
    environment destroys data.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, results_bucket: s3.IBucket,
                 results_key: kms.IKey, bytes_scanned_cutoff_mb: int, region: str, account: str,
                 recursive_delete: bool) -> None:
        super().__init__(scope, construct_id)
        self._results_bucket = results_bucket
        self.arn = f"arn:aws:athena:{region}:{account}:workgroup/{name}"
        self.workgroup = athena.CfnWorkGroup(
            self, "WorkGroup", name=name, state="ENABLED",
            description="Governed queries over the data lake (Lake Formation decides what is visible)",
            recursive_delete_option=recursive_delete,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff_mb * 1024 * 1024,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="AUTO"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{results_bucket.bucket_name}/{RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=results_key.key_arn)),
            ))

    def grant_query(self, grantee: iam.IGrantable) -> iam.Grant:
        """Run and read queries in this workgroup, and read/write its result objects."""
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["athena:StartQueryExecution", "athena:StopQueryExecution", "athena:GetQueryExecution",
                     "athena:GetQueryResults", "athena:GetQueryResultsStream", "athena:BatchGetQueryExecution",
                     "athena:ListQueryExecutions", "athena:GetWorkGroup"],
            resource_arns=[self.arn])
        return grant.combine(self._results_bucket.grant_read_write(grantee, f"{RESULTS_PREFIX}*"))
