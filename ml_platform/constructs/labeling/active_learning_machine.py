"""The active-learning state machine: rounds of train -> predict -> select -> humans -> merge.

Input: {"runName", "runPrefix": "labeled/active-learning/<run>/" (holding pool/features.csv),
        "classes": [...], "hyperparameters": {"objective": "binary:logistic", ...}}.
Each round: the `prepare` step writes the training channel and transform input; when a model can be
trained, a SageMaker training job (our train.py in the XGBoost framework image, script mode), a model
(our inference.py) and a batch transform predict the held-out slice and the pool; `select` accepts
labels above the calibrated threshold and writes the humans' manifests; the labeling-job state
machine runs them (the held-out batch with more workers per object); `merge` folds the labels in and
says whether to stop (all labelled, budget spent, or max rounds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct


@dataclass(frozen=True)
class _JobSpec:
    """What the round's SageMaker jobs share."""

    job_role_arn: str
    image_uri: str
    code_uri: str
    kms_key_arn: str
    vpc: dict[str, list[str]]
    curated_bucket: str
    name_prefix: str


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
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        alerts_topic: sns.ITopic,
        removal_policy: cdk.RemovalPolicy,
        role: iam.IRole,
    ) -> None:
        super().__init__(scope, construct_id)
        region, account = cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID
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
        merge = step("Merge", "merge", "merge", **{"outputManifests.$": "$.jobs[*].manifest"})
        vpc = {"SecurityGroupIds": security_group_ids, "Subnets": subnet_ids}
        jobs_spec = _JobSpec(job_role_arn, image_uri, code_uri, kms_key_arn, vpc, curated_bucket, name_prefix)
        train = self._train(jobs_spec, training_instance_type)
        model = self._model(jobs_spec)
        transform = self._transform(jobs_spec, transform_instance_type)
        jobs = self._human_labeling(launcher, name_prefix, workers_per_object, held_out_workers_per_object)
        start = self._rounds(prepare, select, merge, jobs, train.next(model).next(transform).next(select))
        log_group = logs.LogGroup(
            self, "Logs", encryption_key=logs_key, retention=log_retention, removal_policy=removal_policy
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(start.next(prepare)),
            tracing_enabled=True,
            timeout=cdk.Duration.days(60),
            role=role,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            comment="Active learning: model labels above a calibrated threshold, humans label the rest",
        )
        self._grant(region, account, name_prefix, job_role_arn, kms_key_arn)

    def _train(self, spec: "_JobSpec", instance_type: str) -> sfn.CustomState:
        """Our train.py in the XGBoost framework image on the round's human labels (.sync)."""
        job_name = f"States.Format('{spec.name_prefix}-al-{{}}-r{{}}', $.runName, $.round)"
        return sfn.CustomState(
            self,
            "Train",
            state_json={
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": {
                    "TrainingJobName.$": job_name,
                    "RoleArn": spec.job_role_arn,
                    "AlgorithmSpecification": {"TrainingImage": spec.image_uri, "TrainingInputMode": "File"},
                    "HyperParameters.$": "$.hyperparameters",
                    "InputDataConfig": [
                        {
                            "ChannelName": "train",
                            "ContentType": "text/csv",
                            "DataSource": {
                                "S3DataSource": {
                                    "S3DataType": "S3Prefix",
                                    "S3Uri.$": "$.prepare.trainUri",
                                    "S3DataDistributionType": "FullyReplicated",
                                }
                            },
                        }
                    ],
                    "OutputDataConfig": {
                        "S3OutputPath.$": f"States.Format('s3://{spec.curated_bucket}/{{}}models', $.runPrefix)",
                        "KmsKeyId": spec.kms_key_arn,
                    },
                    "ResourceConfig": {
                        "InstanceCount": 1,
                        "InstanceType": instance_type,
                        "VolumeSizeInGB": 30,
                        "VolumeKmsKeyId": spec.kms_key_arn,
                    },
                    "VpcConfig": spec.vpc,
                    "EnableNetworkIsolation": False,
                    "EnableInterContainerTrafficEncryption": True,
                    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                },
                "ResultSelector": {"modelData.$": "$.ModelArtifacts.S3ModelArtifacts", "name.$": "$.TrainingJobName"},
                "ResultPath": "$.training",
            },
        )

    def _model(self, spec: "_JobSpec") -> sfn.CustomState:
        """The trained model with our inference.py (script mode, code from the bundle)."""
        return sfn.CustomState(
            self,
            "CreateModel",
            state_json={
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createModel",
                "Parameters": {
                    "ModelName.$": "$.training.name",
                    "ExecutionRoleArn": spec.job_role_arn,
                    "VpcConfig": spec.vpc,
                    "PrimaryContainer": {
                        "Image": spec.image_uri,
                        "ModelDataUrl.$": "$.training.modelData",
                        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": spec.code_uri},
                    },
                },
                "ResultPath": None,
            },
        )

    def _transform(self, spec: "_JobSpec", instance_type: str) -> sfn.CustomState:
        """Batch transform of the held-out slice and the pool (.sync)."""
        return sfn.CustomState(
            self,
            "Predict",
            state_json={
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
                "Parameters": {
                    "TransformJobName.$": "$.training.name",
                    "ModelName.$": "$.training.name",
                    "TransformInput": {
                        "ContentType": "text/csv",
                        "SplitType": "Line",
                        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri.$": "$.prepare.predictUri"}},
                    },
                    "TransformOutput": {
                        "S3OutputPath.$": "$.prepare.predictOutputUri",
                        "Accept": "text/csv",
                        "AssembleWith": "Line",
                        "KmsKeyId": spec.kms_key_arn,
                    },
                    "TransformResources": {
                        "InstanceCount": 1,
                        "InstanceType": instance_type,
                        "VolumeKmsKeyId": spec.kms_key_arn,
                    },
                },
                "ResultPath": None,
            },
        )

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
        add(
            iam.PolicyStatement(
                sid="VolumeKeyGrants",
                actions=["kms:CreateGrant"],
                resources=[kms_key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
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
