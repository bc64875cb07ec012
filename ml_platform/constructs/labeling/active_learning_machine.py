"""The active-learning state machine: rounds of train -> predict -> select -> humans -> merge.

Input: {"runName", "runPrefix": "labeled/active-learning/<run>/" (holding pool/features.csv),
        "classes": [...], "hyperparameters": {"objective": "binary:logistic", ...}}.
Each round: the `prepare` step writes the training channel and transform input; when a model can be
trained, a SageMaker training job (our train.py in the XGBoost framework image, script mode), a model
(our inference.py) and a batch transform predict the held-out slice and the pool (these three states:
active_learning_jobs.py); `select` accepts labels above the calibrated threshold and writes the
humans' manifests; the labeling-job state machine runs them (the held-out batch with more workers per
object); `merge` folds the labels in and says whether to stop (all labelled, budget spent, or max
rounds).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ml_platform.constructs.foundation.keys import volume_key_grants_statement
from ml_platform.constructs.labeling.active_learning_jobs import RoundJobSpec, model_job_states
from ml_platform.constructs.labeling.machine_defaults import MachineRuntime, logged_state_machine, report_status


class ActiveLearningMachine(Construct):
    """`self.state_machine`, composing the SageMaker jobs, the labeling jobs and the step function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        steps: lambda_.IFunction,
        launcher: sfn.StateMachine,
        settings: dict[str, Any],
        curated_bucket: str,
        job_role_arn: str,
        image_uri: str,
        code_uri: str,
        kms_key_arn: str,
        subnet_ids: list[str],
        security_group_ids: list[str],
        training_instance_type: str,
        transform_instance_type: str,
        workers_per_object: int,
        held_out_workers_per_object: int,
        name_prefix: str,
        runtime: MachineRuntime,
    ) -> None:
        super().__init__(scope, construct_id)
        prepare, select, merge = self._steps_function_states(steps, settings, curated_bucket)
        vpc = {"SecurityGroupIds": security_group_ids, "Subnets": subnet_ids}
        jobs_spec = RoundJobSpec(job_role_arn, image_uri, code_uri, kms_key_arn, vpc, curated_bucket, name_prefix)
        model_jobs = model_job_states(self, jobs_spec, training_instance_type=training_instance_type,
                                      transform_instance_type=transform_instance_type)
        jobs = self._human_labeling(launcher, name_prefix, workers_per_object, held_out_workers_per_object)
        start = self._rounds(prepare, select, merge, jobs, model_jobs.next(select))
        self.state_machine = logged_state_machine(
            self,
            definition=start.next(prepare),
            timeout=cdk.Duration.days(60),
            comment="Active learning: model labels above a calibrated threshold, humans label the rest",
            runtime=runtime,
        )
        self._grant(cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID, name_prefix, job_role_arn, kms_key_arn)
        report_status(self, self.state_machine, runtime.alerts_topic, "active-learning")

    def _steps_function_states(
        self, steps: lambda_.IFunction, settings: dict[str, Any], curated_bucket: str
    ) -> tuple[tasks.LambdaInvoke, tasks.LambdaInvoke, tasks.LambdaInvoke]:
        """Prepare, Select and Merge: the steps function's actions on the run's prefix and round."""
        run = {"bucket": curated_bucket, "prefix.$": "$.runPrefix"}
        step_settings = {**settings, "classes.$": "$.classes"}

        def step(name: str, action: str, result: str, **extra: Any) -> tasks.LambdaInvoke:
            return tasks.LambdaInvoke(
                self,
                name,
                lambda_function=steps,
                payload_response_only=True,
                payload=sfn.TaskInput.from_object(
                    {"action": action, "round.$": "$.round", "run": run, "settings": step_settings, **extra}
                ),
                result_path=f"$.{result}",
            )

        prepare, select = step("Prepare", "prepare", "prepare"), step("Select", "select", "select")
        return prepare, select, step("Merge", "merge", "merge", **{"outputManifests.$": "$.jobs[*].manifest"})

    def _human_labeling(self, launcher: sfn.StateMachine, name_prefix: str, workers_per_object: int,
                        held_out_workers_per_object: int) -> sfn.Parallel:
        """The uncertain and held-out batches, each a run of the labeling-job machine when not empty."""
        jobs = sfn.Parallel(self, "HumanLabeling", result_path="$.jobs")
        for branch, count, manifest, workers in (
            ("Uncertain", "$.select.uncertainCount", "$.select.uncertainManifestUri", workers_per_object),
            ("HeldOut", "$.select.heldOutCount", "$.select.heldOutManifestUri", held_out_workers_per_object),
        ):
            run_job = tasks.StepFunctionsStartExecution(
                self,
                f"Label{branch}",
                state_machine=launcher,
                integration_pattern=sfn.IntegrationPattern.RUN_JOB,
                input=sfn.TaskInput.from_object(
                    {
                        "jobName.$": (
                            f"States.Format('{name_prefix}-al-{{}}-r{{}}-{branch.lower()}', $.runName, $.round)"
                        ),
                        "manifestUri.$": manifest,
                        "labels.$": "$.classes",
                        "workersPerObject": workers,
                        "taskType": "custom",
                    }
                ),
                result_selector={"manifest.$": "$.Output.job.outputManifest"},
            )
            jobs.branch(
                sfn.Choice(self, f"Any{branch}?")
                .when(sfn.Condition.number_greater_than(count, 0), run_job)
                .otherwise(sfn.Pass(self, f"No{branch}", result=sfn.Result.from_object({})))
            )
        return jobs

    def _rounds(self, prepare: tasks.LambdaInvoke, select: tasks.LambdaInvoke, merge: tasks.LambdaInvoke,
                jobs: sfn.Parallel, model_jobs: sfn.Chain) -> sfn.Pass:
        """prepare -> (model jobs when trainable) -> select -> humans -> merge, until done."""
        next_round = sfn.Pass(
            self,
            "NextRound",
            parameters={
                "round.$": "$.merge.round",
                "runName.$": "$.runName",
                "runPrefix.$": "$.runPrefix",
                "classes.$": "$.classes",
                "hyperparameters.$": "$.hyperparameters",
            },
        )
        finished = sfn.Choice(self, "Finished?").when(
            sfn.Condition.boolean_equals("$.merge.done", True), sfn.Succeed(self, "AllLabeledOrBudgetSpent")
        )
        finished.otherwise(next_round.next(prepare))
        select.next(jobs).next(merge).next(finished)
        prepare.next(
            sfn.Choice(self, "Trainable?")
            .when(
                sfn.Condition.boolean_equals("$.prepare.trainable", True),
                model_jobs,
            )
            .otherwise(select)
        )
        start = sfn.Pass(
            self,
            "FirstRound",
            parameters={
                "round": 0,
                "runName.$": "$.runName",
                "runPrefix.$": "$.runPrefix",
                "classes.$": "$.classes",
                "hyperparameters.$": "$.hyperparameters",
            },
        )
        return start

    def _grant(self, region: str, account: str, name_prefix: str, job_role_arn: str, kms_key_arn: str) -> None:
        """What the .sync SageMaker integrations need (Step Functions developer guide, SageMaker IAM)."""
        add = self.state_machine.add_to_role_policy
        add(
            iam.PolicyStatement(
                sid="SageMakerJobs",
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:CreateModel",
                    "sagemaker:CreateTransformJob",
                    "sagemaker:DescribeTransformJob",
                    "sagemaker:StopTransformJob",
                    "sagemaker:AddTags",
                ],
                resources=[
                    f"arn:aws:sagemaker:{region}:{account}:{kind}/{name_prefix}-al-*"
                    for kind in ("training-job", "model", "transform-job")
                ],
            )
        )
        add(
            iam.PolicyStatement(
                sid="PassJobRole",
                actions=["iam:PassRole"],
                resources=[job_role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        # CreateTrainingJob/CreateTransformJob with a VolumeKmsKeyId: SageMaker creates a grant on the
        # key in the caller's name for the jobs' volumes.
        add(volume_key_grants_statement(kms_key_arn))
        add(
            iam.PolicyStatement(
                sid="SyncIntegrationRules",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    f"arn:aws:events:{region}:{account}:rule/StepFunctionsGetEventsForSageMaker{kind}JobsRule"
                    for kind in ("Training", "Transform")
                ],
            )
        )
