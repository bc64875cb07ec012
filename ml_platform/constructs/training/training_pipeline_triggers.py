"""EventBridge rules that start the training pipeline, and the one that reports its failures."""
from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

# Spark (Glue) writes `_SUCCESS` after every other file of a job's output: one run per ETL run,
# not one per object.
SUCCESS_MARKER = "_SUCCESS"


class TrainingPipelineTriggers(Construct):
    """Start `pipeline_arn` on a schedule and when the ETL finishes writing training-ready data.

    Behaviour: EventBridge assumes `role` (which may only start this pipeline) to call
    StartPipelineExecution; the data trigger matches S3 `Object Created` events of `bucket_name`
    keys `<prefix>*_SUCCESS` (the bucket must send events to EventBridge); both start the pipeline
    with its default parameters (the whole training-ready prefix). Failed executions are published to `alerts_topic`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, pipeline_arn: str, role: iam.IRole,
                 schedule: str | None, bucket_name: str, prefix: str, alerts_topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        target = events.CfnRule.TargetProperty(id="TrainingPipeline", arn=pipeline_arn, role_arn=role.role_arn)
        self.schedule_rule = None
        if schedule:
            self.schedule_rule = events.CfnRule(
                self, "Schedule", schedule_expression=schedule, state="ENABLED", targets=[target],
                description="Scheduled retraining")
        self.data_rule = events.CfnRule(
            self, "TrainingDataReady", state="ENABLED", targets=[target],
            description="Retrain when the ETL has written a new training-ready data set",
            event_pattern={
                "source": ["aws.s3"], "detail-type": ["Object Created"],
                "detail": {"bucket": {"name": [bucket_name]},
                           "object": {"key": [{"wildcard": f"{prefix}*{SUCCESS_MARKER}"}]}}})
        self.failure_rule = events.CfnRule(
            self, "ExecutionFailed", state="ENABLED",
            description="Notify the alert topic when a training pipeline execution fails",
            event_pattern={
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Building Pipeline Execution Status Change"],
                "detail": {"currentPipelineExecutionStatus": ["Failed"], "pipelineArn": [pipeline_arn]}},
            targets=[events.CfnRule.TargetProperty(id="AlertTopic", arn=alerts_topic.topic_arn)])
