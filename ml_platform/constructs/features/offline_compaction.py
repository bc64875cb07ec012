"""Scheduled Iceberg compaction of the offline stores: Athena OPTIMIZE then VACUUM.

Feature Store appends small Parquet files to each offline store as records arrive; without
compaction every training-set query reads more and more files and snapshots. An EventBridge
Scheduler schedule per group and statement calls athena:StartQueryExecution directly (a universal
target: no Lambda to maintain) in the features workgroup:
- `OPTIMIZE <table> REWRITE DATA USING BIN_PACK` at the configured time;
- `VACUUM <table>` one hour later (expires old snapshots and removes orphan files by the table's
  vacuum properties).
The scheduler's role runs queries in that workgroup only, reads/writes the groups' offline
prefixes and the query results, and has Lake Formation read-write on the features zone (Athena
acts with the caller's Lake Formation permissions).
"""
from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from ml_platform.constants import RolePurpose
from ml_platform.constructs.data.athena import RESULTS_PREFIX, QueryWorkgroup
from ml_platform.constructs.data.lake_formation import LakeGovernance
from ml_platform.constructs.features.feature_group import GET_DATA_ACCESS_REASON, FeatureGroup
from ml_platform.constructs.foundation.roles import PlatformRole
from ml_platform.grant_acknowledgments import KMS, S3_READ_WRITE, acknowledge_grants
from ml_platform.naming import Naming

START_QUERY_TARGET = "arn:aws:scheduler:::aws-sdk:athena:startQueryExecution"


def _one_hour_later(expression: str) -> str:
    """cron(M H ...) -> the same schedule an hour later (VACUUM after OPTIMIZE); rate() unchanged."""
    if not expression.startswith("cron("):
        return expression
    fields = expression[5:-1].split()
    if fields[1].isdigit():
        fields[1] = str((int(fields[1]) + 1) % 24)
    return f"cron({' '.join(fields)})"


class OfflineCompaction(Construct):
    """OPTIMIZE and VACUUM schedules for every group with an offline store."""

    def __init__(self, scope: Construct, construct_id: str, *, groups: Sequence[FeatureGroup],
                 workgroup: QueryWorkgroup, workgroup_name: str, results_bucket_arn: str, schedule: str,
                 naming: Naming,
                 governance: LakeGovernance) -> None:
        super().__init__(scope, construct_id)
        self.role = PlatformRole(self, "Role", role_name=naming.role_name(RolePurpose.FEATURE_STORE_COMPACTION),
                                 assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com", conditions={
                                     "StringEquals": {"aws:SourceAccount": naming.account}}),
                                 description="EventBridge Scheduler: Athena OPTIMIZE/VACUUM of the offline stores")
        workgroup.grant_query(self.role)
        workgroup_results = f"{results_bucket_arn}/{RESULTS_PREFIX}*"
        self.schedules: list[scheduler.CfnSchedule] = []
        for group in groups:
            if not group.config.offline_store:
                continue
            group.grant_read_offline(self.role, scope=Construct(self, f"{group.node.id}Access"))
            self.role.add_to_principal_policy(iam.PolicyStatement(
                sid=f"Rewrite{group.node.id}", actions=["s3:PutObject", "s3:DeleteObject", "glue:UpdateTable",
                                                        "kms:GenerateDataKey", "kms:Encrypt"],
                resources=[f"{group.bucket.bucket_arn}/{group.offline_prefix}*", group.glue_arns()[2],
                           group.key.key_arn]))
            table = f'"{group.database_name}"."{group.table_name}"'
            for statement, expression in (("Optimize", schedule), ("Vacuum", _one_hour_later(schedule))):
                sql = f"OPTIMIZE {table} REWRITE DATA USING BIN_PACK" if statement == "Optimize" else f"VACUUM {table}"
                self.schedules.append(scheduler.CfnSchedule(
                    self, f"{group.node.id}{statement}", schedule_expression=expression,
                    schedule_expression_timezone="UTC", state="ENABLED",
                    description=f"Iceberg {statement.upper()} of {group.name}'s offline store",
                    flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
                    target=scheduler.CfnSchedule.TargetProperty(
                        arn=START_QUERY_TARGET, role_arn=self.role.role_arn,
                        input=json.dumps({"QueryString": sql, "WorkGroup": workgroup_name}),
                        retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                            maximum_event_age_in_seconds=3600, maximum_retry_attempts=3))))
        governance.grant_read_write(self.role, zones=("features",))
        findings = {"Resource::*": GET_DATA_ACCESS_REASON,
                    f"Resource::{workgroup_results}": "Athena names each query's result objects itself (query id) "
                                                      "under the workgroup's results prefix"}
        findings |= {f"Resource::{g.bucket.bucket_arn}/{g.offline_prefix}*":
                     "OPTIMIZE rewrites and VACUUM deletes the Iceberg data and metadata files of this group's "
                     "offline store, whose names Feature Store and Iceberg generate" for g in groups if g.config.offline_store}
        acknowledge_grants(self.role, actions=S3_READ_WRITE + KMS, resources=findings)
