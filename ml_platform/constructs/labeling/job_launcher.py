"""A Step Functions state machine that runs one Ground Truth labeling job from a manifest.

Input: {"jobName", "manifestUri" (s3:// under the raw zone's labeling/ prefix), "labels": [...],
        optional "taskType" ("custom" | "text-classification" | "image-classification" | "bounding-box"),
        "automatedLabeling" (built-in tasks), "workersPerObject", "labelAttributeName"}.
It writes the job's label category file and worker template under the curated zone's
`labeled/jobs/<jobName>/` (KMS), creates the job (output there too, KMS; automated labeling with the
volume key and the VPC), polls DescribeLabelingJob until the job ends, and on success turns the output
manifest into JSON-lines rows of the `labeled_events` Glue table (labeled_table.py; these polling and
export states: job_polling.py). Before anything is written, the steps function validates the run
input (labeling_validate.py: job name, labels, task type, workers, a manifest under the raw zone's
`labeling/` prefix that exists and lists data objects, automated labeling only for built-in tasks and
on at least 1,250 objects counted in the manifest); a refused input fails the run at once with the
reason as its cause. Success and failure reach the alert topic through an EventBridge rule on the
execution's status (machine_defaults.py).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ml_platform.constructs.labeling.job_polling import poll_until_finished
from ml_platform.constructs.labeling.labeling_job_request import JobSettings, create_labeling_job_parameters
from ml_platform.constructs.labeling.machine_defaults import MachineRuntime, logged_state_machine, report_status
from ml_platform.constructs.labeling.task_types import (
    BUILT_IN_TASKS,
    CUSTOM_TASK,
    MIN_OBJECTS_FOR_AUTOMATED_LABELING,
    BuiltInTask,
)

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
        runtime: MachineRuntime,
    ) -> None:
        super().__init__(scope, construct_id)
        self.job_name_prefix = job_name_prefix
        self.settings, self.curated_bucket, self.lake_key = settings, curated_bucket, lake_key
        self.custom_template, self.built_in_templates = custom_template, built_in_templates
        # This environment's labeling jobs: what the create and describe states may act on.
        self.labeling_jobs_arn = (
            f"arn:aws:sagemaker:{settings.region}:{cdk.Aws.ACCOUNT_ID}:labeling-job/{job_name_prefix}*"
        )
        self.steps_function = lambda_.Function.from_function_arn(self, "ExportFunction", export_lambda_arn)
        prepare = self._prepare(defaults, input_prefix_uri)
        poll_until_finished(self, creates=self._create_choice(), steps_function=self.steps_function,
                            curated_bucket=curated_bucket, labeling_jobs_arn=self.labeling_jobs_arn)
        self.state_machine = logged_state_machine(
            self,
            definition=prepare.next(self._route),
            timeout=cdk.Duration.days(11),
            comment="Runs one Ground Truth labeling job from a manifest and exports its labels",
            runtime=runtime,
        )
        self._grant()
        report_status(self, self.state_machine, runtime.alerts_topic, "labeling job")

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
        """Defaults under the input, its validation, the label category file; `self._route` (TaskType?) next."""
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
        """PutObject of one of the job's files under `labeled/jobs/<jobName>/`, with the lake key."""
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
        too_few, no_auto, unknown = self._refusals()
        creates = self._route_custom(no_auto)
        for task in BUILT_IN_TASKS:
            creates += self._route_built_in(task, too_few)
        self._route.otherwise(unknown)
        return creates

    def _refusals(self) -> tuple[sfn.Fail, sfn.Fail, sfn.Fail]:
        """Where the route refuses a request: too few objects for automated labeling, automated
        labeling of a custom task, an unknown task type."""
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
        return too_few, no_auto, unknown

    def _route_custom(self, no_auto: sfn.Fail) -> list[tasks.CallAwsService]:
        """The custom task: our worker template, never automated labeling."""
        custom_create = self._create(CUSTOM_TASK, automated=False)
        custom = self._put("WriteCustomTemplate", "task-template.liquid.html", {"Body": self.custom_template})
        custom.next(
            sfn.Choice(self, "CustomAutomated?")
            .when(sfn.Condition.boolean_equals("$.automatedLabeling", True), no_auto)
            .otherwise(custom_create)
        )
        self._route.when(sfn.Condition.string_equals("$.taskType", CUSTOM_TASK), custom)
        return [custom_create]

    def _route_built_in(self, task: BuiltInTask, too_few: sfn.Fail) -> list[tasks.CallAwsService]:
        """A built-in task: its template, then a manual job or (enough objects) an automated one."""
        name = "".join(p.capitalize() for p in task.key.split("-"))
        manual, auto = self._create(task.key, automated=False), self._create(task.key, automated=True)
        write = self._put(
            f"Write{name}Template", "task-template.liquid.html", {"Body": self.built_in_templates[task.key]}
        )
        write.next(
            sfn.Choice(self, f"{name}Automated?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.boolean_equals("$.automatedLabeling", True),
                    sfn.Condition.number_less_than("$.validation.objectCount", MIN_OBJECTS_FOR_AUTOMATED_LABELING),
                ),
                too_few,
            )
            .when(sfn.Condition.boolean_equals("$.automatedLabeling", True), auto)
            .otherwise(manual)
        )
        self._route.when(sfn.Condition.string_equals("$.taskType", task.key), write)
        return [manual, auto]

    def _create(self, task: str, *, automated: bool) -> tasks.CallAwsService:
        name = "".join(p.capitalize() for p in task.split("-")) + ("Automated" if automated else "")
        return tasks.CallAwsService(
            self,
            f"Create{name}Job",
            service="sagemaker",
            action="createLabelingJob",
            parameters=create_labeling_job_parameters(self.settings, task, automated=automated),
            iam_resources=[self.labeling_jobs_arn],
            result_path=sfn.JsonPath.DISCARD,
        )
