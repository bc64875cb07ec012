"""Alarms on the monitoring metrics (both engines publish the same ones) and optional retraining."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from constructs import Construct

from ml_platform.config_sections.monitoring import MonitoringConfig
from ml_platform.constructs.monitoring.our_monitor import NAMESPACE
from ml_platform.constructs.operations.alerting import Alerting


class MonitoringAlarms(Construct):
    """Per endpoint: drifted features, data-quality violations, prediction drift, model-quality
    violations, and (binary classification with `monitoring.min_auc`) AUC below the floor.

    Behaviour: each alarm evaluates one run (period = the schedule's window), treats a run
    without data as not breaching (no traffic is not drift), and notifies `alerting`'s topic on ALARM
    and OK. With `retrain_pipeline_arn` an EventBridge rule starts the training pipeline when the
    drift alarm goes to ALARM (`monitoring.retrain_on_drift`, off unless set).
    """

    def __init__(self, scope: Construct, construct_id: str, *, endpoint: str, monitoring: MonitoringConfig,
                 alerting: Alerting, retrain_pipeline_arn: str | None = None,
                 retrain_role_arn: str | None = None) -> None:
        super().__init__(scope, construct_id)
        period = cdk.Duration.hours(monitoring.window_hours)
        dims = {"Endpoint": endpoint}

        def alarm(alarm_id: str, metric: str, threshold: float, operator: cloudwatch.ComparisonOperator,
                  description: str, statistic: str = "Maximum") -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self, alarm_id, alarm_description=f"{endpoint}: {description}", threshold=threshold,
                metric=cloudwatch.Metric(namespace=NAMESPACE, metric_name=metric, dimensions_map=dims,
                                         statistic=statistic, period=period),
                evaluation_periods=1, comparison_operator=operator,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
            alerting.notify(created, on_ok=True)
            return created

        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        self.drift = alarm("FeatureDrift", "DriftedFeatures", 1, at_least,
                           "input features drifted from the training baseline")
        self.violations = alarm("DataQualityViolations", "Violations", 1, at_least,
                                "data-quality constraints of the baseline violated")
        self.prediction_drift = alarm("PredictionDrift", "PredictionDrift", monitoring.prediction_drift_threshold,
                                      cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                                      "prediction distribution drifted from the baseline's")
        self.quality = alarm("ModelQualityViolations", "ModelQualityViolations", 1, at_least,
                             "model quality below the baseline's constraints on labelled traffic")
        self.auc = None
        if monitoring.min_auc is not None and monitoring.problem_type == "BinaryClassification":
            self.auc = alarm("ModelQualityAuc", "AUC", monitoring.min_auc,
                             cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, "AUC on labelled traffic below the floor",
                             statistic="Minimum")
        self.retraining = None
        if retrain_pipeline_arn and retrain_role_arn:
            self.retraining = events.CfnRule(
                self, "RetrainOnDrift", state="ENABLED", description=f"Retrain when {endpoint}'s inputs drift",
                event_pattern={"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
                               "resources": [self.drift.alarm_arn], "detail": {"state": {"value": ["ALARM"]}}},
                targets=[events.CfnRule.TargetProperty(id="TrainingPipeline", arn=retrain_pipeline_arn,
                                                       role_arn=retrain_role_arn)])
