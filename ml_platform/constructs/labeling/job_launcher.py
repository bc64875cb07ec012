"""A Step Functions state machine that runs one Ground Truth labeling job from a manifest.

Input: {"jobName", "manifestUri" (s3:// under the raw zone's labeling/ prefix), "labels": [...],
        optional "taskType" ("custom" | "text-classification" | "image-classification" | "bounding-box"),
        "automatedLabeling" (built-in tasks), "workersPerObject", "labelAttributeName"}.
It writes the job's label category file and worker template under the curated zone's
`labeled/jobs/<jobName>/` (KMS), creates the job (output there too, KMS; automated labeling with the
volume key and the VPC), polls DescribeLabelingJob until the job ends, and on success turns the output
manifest into JSON-lines rows of the `labeled_events` Glue table (labeled_table.py). Before anything
is written, the steps function validates the run input (labeling_validate.py: job name, labels, task
type, workers, a manifest under the raw zone's `labeling/` prefix that exists and lists data
objects, automated labeling only for built-in tasks and on at least 1,250 objects counted in the
manifest); a refused input fails the run at once with the reason as its cause. Success and failure
reach the alert topic through an EventBridge rule on the execution's status.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ml_platform.constructs.labeling.labeled_table import TABLES_PREFIX
from ml_platform.constructs.labeling.labeling_job_request import JobSettings, create_labeling_job_parameters
from ml_platform.constructs.labeling.task_types import BUILT_IN_TASKS, CUSTOM_TASK, MIN_OBJECTS_FOR_AUTOMATED_LABELING

JOBS_PREFIX = "labeled/jobs"


class LabelingJobLauncher(Construct):
    """`self.state_machine`: start it with the input above (console, CLI, or another state machine)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: JobSettings,
        curated_bucket: str,
        lake_key: kms.IKey,
        custom_template: str,
        built_in_templates: dict[str, str],
        defaults: dict[str, object],
        export_lambda_arn: str,
        input_prefix_uri: str,
        job_name_prefix: str,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        alerts_topic: sns.ITopic,
        removal_policy: cdk.RemovalPolicy,
        role: iam.IRole,
    ) -> None:
        super().__init__(scope, construct_id)
        self.job_name_prefix = job_name_prefix
        self.settings, self.curated_bucket, self.lake_key = settings, curated_bucket, lake_key
        self.custom_template, self.built_in_templates = custom_template, built_in_templates
        self.steps_function = _function_ref(self, export_lambda_arn)
        prepare = self._prepare(defaults, input_prefix_uri)
        self._poll_loop(self._create_choice())
        log_group = logs.LogGroup(
            self, "Logs", encryption_key=logs_key, retention=log_retention, removal_policy=removal_policy
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(prepare.next(self._route)),
            tracing_enabled=True,
            timeout=cdk.Duration.days(11),
            role=role,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            comment="Runs one Ground Truth labeling job from a manifest and exports its labels",
        )
        self._grant()
        report_status(self, self.state_machine, alerts_topic, "labeling job")

    def _describe(self, construct_id: str, result_selector: dict[str, str]) -> tasks.CallAwsService:
        """DescribeLabelingJob on the execution's job into `$.job`."""
        return tasks.CallAwsService(
            self,
            construct_id,
            service="sagemaker",
            action="describeLabelingJob",
            parameters={"LabelingJobName.$": "$.jobName"},
            iam_resources=[
                f"arn:aws:sagemaker:{self.settings.region}:{cdk.Aws.ACCOUNT_ID}:labeling-job/{self.job_name_prefix}*"
            ],
            result_selector=result_selector,
            result_path="$.job",
        )

    def _export(self) -> tasks.LambdaInvoke:
        """The steps function turns the output manifest into rows of the labeled-events table."""
        return tasks.LambdaInvoke(
            self,
            "ExportLabels",
            lambda_function=self.steps_function,
            payload=sfn.TaskInput.from_object(
                {
                    "action": "export",
                    "jobName.$": "$.jobName",
                    "outputManifest.$": "$.job.outputManifest",
                    "labelAttributeName.$": "$.labelAttributeName",
                    "run": {"bucket": self.curated_bucket, "prefix": TABLES_PREFIX + "/"},
                }
            ),
            payload_response_only=True,
            result_path="$.export",
        )

    def _poll_loop(self, creates: list[tasks.CallAwsService]) -> sfn.Wait:
        """After each create: wait a minute, describe, until Completed (export) or Failed/Stopped."""
        wait = sfn.Wait(self, "WaitForJob", time=sfn.WaitTime.duration(cdk.Duration.minutes(1)))
        describe = self._describe(
            "DescribeLabelingJob",
            {
                "status.$": "$.LabelingJobStatus",
                "outputManifest.$": "$.LabelingJobOutput.OutputDatasetS3Uri",
                "counters.$": "$.LabelCounters",
            },
        )
        describe_first = self._describe("DescribeLabelingJobStatus", {"status.$": "$.LabelingJobStatus"})
        export = self._export()
        failed = sfn.Fail(
            self, "LabelingJobFailed", cause="The labeling job failed or was stopped", error="LabelingJobFailed"
        )
        done = sfn.Succeed(self, "Labeled")
        poll = (
            sfn.Choice(self, "JobFinished?")
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

    def _grant(self) -> None:
        """PassRole of the jobs' role to SageMaker only, the job files, the lake key."""
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassGroundTruthRole",
                actions=["iam:PassRole"],
                resources=[self.settings.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="WriteJobFiles",
                actions=["s3:PutObject"],
                resources=[f"arn:aws:s3:::{self.curated_bucket}/{JOBS_PREFIX}/*"],
            )
        )
        self.lake_key.grant(self.state_machine, "kms:GenerateDataKey", "kms:Decrypt")

    def _validate(self, input_prefix_uri: str) -> tasks.LambdaInvoke:
        """The steps function checks the merged input and counts the manifest's objects
        (`$.validation.objectCount`); a refused input fails the run with the reason as its cause."""
        validate = tasks.LambdaInvoke(
            self,
            "ValidateInput",
            lambda_function=self.steps_function,
            payload=sfn.TaskInput.from_object(
                {
                    "action": "validate",
                    "request.$": "$",
                    "jobNamePrefix": self.job_name_prefix,
                    "inputPrefix": input_prefix_uri,
                }
            ),
            payload_response_only=True,
            result_path="$.validation",
        )
        refused = sfn.Fail(self, "InvalidInput", error="InvalidInput", cause_path="$.refusal.Cause")
        validate.add_catch(refused, errors=["InvalidLabelingRequest"], result_path="$.refusal")
        return validate

    def _prepare(self, defaults: dict[str, object], input_prefix_uri: str) -> sfn.Chain:
        with_defaults = sfn.Pass(self, "Defaults", result=sfn.Result.from_object(defaults), result_path="$.defaults")
        merged = sfn.Pass(
            self,
            "MergeInput",
            parameters={"request.$": "States.JsonMerge($.defaults, $$.Execution.Input, false)"},
            output_path="$.request",
        )
        labels = sfn.Map(
            self,
            "CategoryLabels",
            items_path="$.labels",
            result_path="$.categoryLabels",
            item_selector={"label.$": "$$.Map.Item.Value"},
        )
        labels.item_processor(sfn.Pass(self, "CategoryLabel"))
        document = sfn.Pass(
            self,
            "CategoryFile",
            parameters={"document-version": "2018-11-28", "labels.$": "$.categoryLabels"},
            result_path="$.categoryFile",
        )
        write = self._put(
            "WriteCategoryFile", "label-categories.json", {"Body.$": "States.JsonToString($.categoryFile)"}
        )
        self._route = sfn.Choice(self, "TaskType?")
        return with_defaults.next(merged).next(self._validate(input_prefix_uri)).next(labels).next(document).next(write)

    def _put(self, construct_id: str, file_name: str, body: dict[str, str]) -> tasks.CallAwsService:
        return tasks.CallAwsService(
            self,
            construct_id,
            service="s3",
            action="putObject",
            parameters={
                "Bucket": self.curated_bucket,
                "Key.$": f"States.Format('{JOBS_PREFIX}/{{}}/{file_name}', $.jobName)",
                "ServerSideEncryption": "aws:kms",
                "SseKmsKeyId": self.lake_key.key_arn,
                **body,
            },
            iam_resources=[f"arn:aws:s3:::{self.curated_bucket}/{JOBS_PREFIX}/*"],
            result_path=sfn.JsonPath.DISCARD,
        )

    def _create_choice(self) -> list[tasks.CallAwsService]:
        """One template write + CreateLabelingJob per task type (and per automated-labeling choice)."""
        creates: list[tasks.CallAwsService] = []
        too_few = sfn.Fail(
            self,
            "TooFewObjectsForAutomatedLabeling",
            error="InvalidInput",
            cause=f"Automated data labeling needs at least {MIN_OBJECTS_FOR_AUTOMATED_LABELING:,} "
            "objects in the manifest; label smaller sets without it",
        )
        no_auto = sfn.Fail(
            self,
            "NoAutomatedLabelingForCustomTasks",
            error="InvalidInput",
            cause="Built-in automated labeling supports built-in task types only; use the "
            "active-learning state machine for custom (tabular) tasks",
        )
        unknown = sfn.Fail(
            self,
            "UnknownTaskType",
            error="InvalidInput",
            cause="taskType must be custom, text-classification, image-classification or bounding-box",
        )
        custom_create = self._create(CUSTOM_TASK, automated=False)
        creates.append(custom_create)
        custom = self._put("WriteCustomTemplate", "task-template.liquid.html", {"Body": self.custom_template})
        custom.next(
            sfn.Choice(self, "CustomAutomated?")
            .when(sfn.Condition.boolean_equals("$.automatedLabeling", True), no_auto)
            .otherwise(custom_create)
        )
        self._route.when(sfn.Condition.string_equals("$.taskType", CUSTOM_TASK), custom)
        for task in BUILT_IN_TASKS:
            name = "".join(p.capitalize() for p in task.key.split("-"))
            manual, auto = self._create(task.key, automated=False), self._create(task.key, automated=True)
            creates += [manual, auto]
            write = self._put(
                f"Write{name}Template", "task-template.liquid.html", {"Body": self.built_in_templates[task.key]}
            )
            write.next(
                sfn.Choice(self, f"{name}Automated?")
                .when(
                    sfn.Condition.and_(
                        sfn.Condition.boolean_equals("$.automatedLabeling", True),
                        sfn.Condition.number_less_than(
                            "$.validation.objectCount", MIN_OBJECTS_FOR_AUTOMATED_LABELING
                        ),
                    ),
                    too_few,
                )
                .when(sfn.Condition.boolean_equals("$.automatedLabeling", True), auto)
                .otherwise(manual)
            )
            self._route.when(sfn.Condition.string_equals("$.taskType", task.key), write)
        self._route.otherwise(unknown)
        return creates

    def _create(self, task: str, *, automated: bool) -> tasks.CallAwsService:
        name = "".join(p.capitalize() for p in task.split("-")) + ("Automated" if automated else "")
        return tasks.CallAwsService(
            self,
            f"Create{name}Job",
            service="sagemaker",
            action="createLabelingJob",
            parameters=create_labeling_job_parameters(self.settings, task, automated=automated),
            iam_resources=[
                f"arn:aws:sagemaker:{self.settings.region}:{cdk.Aws.ACCOUNT_ID}:labeling-job/{self.job_name_prefix}*"
            ],
            result_path=sfn.JsonPath.DISCARD,
        )


def _function_ref(scope: Construct, arn: str):  # type: ignore[no-untyped-def]
    from aws_cdk import aws_lambda as lambda_

    return lambda_.Function.from_function_arn(scope, "ExportFunction", arn)


def report_status(scope: Construct, machine: sfn.StateMachine, topic: sns.ITopic, what: str) -> None:
    """Every end of an execution (success or not) reaches the alert topic through EventBridge."""
    rule = events.Rule(
        scope,
        "StatusToAlerts",
        description=f"Report each {what} run's outcome",
        event_pattern=events.EventPattern(
            source=["aws.states"],
            detail_type=["Step Functions Execution Status Change"],
            detail={
                "stateMachineArn": [machine.state_machine_arn],
                "status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
            },
        ),
    )
    # By ARN: the topic's own policy already admits EventBridge of this account only; the L2 topic
    # would make the target add an unconditioned events.amazonaws.com statement to it.
    by_arn = sns.Topic.from_topic_arn(rule, "AlertTopic", topic.topic_arn)
    rule.add_target(
        targets.SnsTopic(
            by_arn,
            message=events.RuleTargetInput.from_text(
                f"{what} run {events.EventField.from_path('$.detail.name')}: "
                f"{events.EventField.from_path('$.detail.status')}"
            ),
        )
    )
