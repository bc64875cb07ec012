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
        job_name = f"States.Format('{name_prefix}-al-{{}}-r{{}}', $.runName, $.round)"
        vpc = {"SecurityGroupIds": security_group_ids, "Subnets": subnet_ids}
        train = sfn.CustomState(
            self,
            "Train",
            state_json={
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": {
                    "TrainingJobName.$": job_name,
                    "RoleArn": job_role_arn,
                    "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
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
                        "S3OutputPath.$": f"States.Format('s3://{curated_bucket}/{{}}models', $.runPrefix)",
                        "KmsKeyId": kms_key_arn,
                    },
                    "ResourceConfig": {
                        "InstanceCount": 1,
                        "InstanceType": training_instance_type,
                        "VolumeSizeInGB": 30,
                        "VolumeKmsKeyId": kms_key_arn,
                    },
                    "VpcConfig": vpc,
                    "EnableNetworkIsolation": False,
                    "EnableInterContainerTrafficEncryption": True,
                    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                },
                "ResultSelector": {"modelData.$": "$.ModelArtifacts.S3ModelArtifacts", "name.$": "$.TrainingJobName"},
                "ResultPath": "$.training",
            },
        )
        model = sfn.CustomState(
            self,
            "CreateModel",
            state_json={
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createModel",
                "Parameters": {
                    "ModelName.$": "$.training.name",
                    "ExecutionRoleArn": job_role_arn,
                    "VpcConfig": vpc,
                    "PrimaryContainer": {
                        "Image": image_uri,
                        "ModelDataUrl.$": "$.training.modelData",
                        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": code_uri},
                    },
                },
                "ResultPath": None,
            },
        )
        transform = sfn.CustomState(
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
                        "KmsKeyId": kms_key_arn,
                    },
                    "TransformResources": {
                        "InstanceCount": 1,
                        "InstanceType": transform_instance_type,
                        "VolumeKmsKeyId": kms_key_arn,
                    },
                },
                "ResultPath": None,
            },
        )
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
                train.next(model).next(transform).next(select),
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
