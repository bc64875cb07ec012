"""The labeling-job launcher's last phase: wait for the job to end, then export its labels.

After each CreateLabelingJob state the machine waits a minute and describes the job, again and
again, until it is Completed (describe it once more for the output manifest, have the steps function
turn that manifest into rows of the labeled-events table, succeed) or Failed/Stopped (fail the run).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ml_platform.constructs.labeling.labeled_table import TABLES_PREFIX


def poll_until_finished(scope: Construct, *, creates: list[tasks.CallAwsService], steps_function: lambda_.IFunction,
                        curated_bucket: str, labeling_jobs_arn: str) -> sfn.Wait:
    """After each of `creates`: wait a minute, describe, until Completed (export) or Failed/Stopped."""
    wait = sfn.Wait(scope, "WaitForJob", time=sfn.WaitTime.duration(cdk.Duration.minutes(1)))
    describe = _describe(
        scope,
        "DescribeLabelingJob",
        {
            "status.$": "$.LabelingJobStatus",
            "outputManifest.$": "$.LabelingJobOutput.OutputDatasetS3Uri",
            "counters.$": "$.LabelCounters",
        },
        labeling_jobs_arn,
    )
    describe_first = _describe(scope, "DescribeLabelingJobStatus", {"status.$": "$.LabelingJobStatus"},
                               labeling_jobs_arn)
    export = _export(scope, steps_function, curated_bucket)
    failed = sfn.Fail(
        scope, "LabelingJobFailed", cause="The labeling job failed or was stopped", error="LabelingJobFailed"
    )
    done = sfn.Succeed(scope, "Labeled")
    poll = (
        sfn.Choice(scope, "JobFinished?")
        .when(sfn.Condition.string_equals("$.job.status", "Completed"), describe.next(export).next(done))
        .when(
            sfn.Condition.or_(
                sfn.Condition.string_equals("$.job.status", "Failed"),
                sfn.Condition.string_equals("$.job.status", "Stopped"),
            ),
            failed,
        )
        .otherwise(wait)
    )
    wait.next(describe_first).next(poll)
    for state in creates:
        state.next(wait)
    return wait


def _describe(scope: Construct, construct_id: str, result_selector: dict[str, str],
              labeling_jobs_arn: str) -> tasks.CallAwsService:
    """DescribeLabelingJob on the execution's job into `$.job`."""
    return tasks.CallAwsService(
        scope,
        construct_id,
        service="sagemaker",
        action="describeLabelingJob",
        parameters={"LabelingJobName.$": "$.jobName"},
        iam_resources=[labeling_jobs_arn],
        result_selector=result_selector,
        result_path="$.job",
    )


def _export(scope: Construct, steps_function: lambda_.IFunction, curated_bucket: str) -> tasks.LambdaInvoke:
    """The steps function turns the output manifest into rows of the labeled-events table."""
    return tasks.LambdaInvoke(
        scope,
        "ExportLabels",
        lambda_function=steps_function,
        payload=sfn.TaskInput.from_object(
            {
                "action": "export",
                "jobName.$": "$.jobName",
                "outputManifest.$": "$.job.outputManifest",
                "labelAttributeName.$": "$.labelAttributeName",
                "run": {"bucket": curated_bucket, "prefix": TABLES_PREFIX + "/"},
            }
        ),
        payload_response_only=True,
        result_path="$.export",
    )
