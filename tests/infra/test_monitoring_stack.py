"""Monitoring stack (our engine, the default): where it exists, the function in the VPC with the
settings its code needs, the rules' cron form and patterns, alarms to the alert topic."""
from __future__ import annotations

import importlib.util
import json
import sys

import pytest
from aws_cdk.assertions import Match

from ml_platform.config import load_config
from ml_platform.constants import RolePurpose
from ml_platform.paths import LAMBDA_ROOT


def _runner_settings_module():
    spec = importlib.util.spec_from_file_location("monitoring_runner_settings_infra",
                                                  LAMBDA_ROOT / "monitoring_runner" / "runner_settings.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_env_with_a_captured_realtime_endpoint_is_monitored_by_default(stages):
    # dev serves serverless (no data capture); staging and prod are real-time with capture.
    assert stages["dev"].monitoring is None
    assert stages["staging"].monitoring is not None and stages["prod"].monitoring is not None


@pytest.fixture(scope="module")
def staging(stages, template_of):
    return template_of(stages["staging"].monitoring)


def test_the_function_runs_in_the_isolated_subnets_with_every_setting_its_code_requires(staging):
    (function,) = [f for f in staging.find_resources("AWS::Lambda::Function").values()
                   if f["Properties"].get("Description", "").startswith("Starts monitoring jobs")]
    props = function["Properties"]
    assert props["VpcConfig"]["SubnetIds"] and props["VpcConfig"]["SecurityGroupIds"]
    assert props["TracingConfig"] == {"Mode": "Active"} and props["DeadLetterConfig"]["TargetArn"]
    variables = props["Environment"]["Variables"]
    assert set(_runner_settings_module().REQUIRED) <= set(variables)
    assert variables["INSTANCE_TYPE"] == "ml.m5.large" and variables["WINDOW_HOURS"] == "1"
    assert variables["JOB_PREFIX"] == "mlp-stg-monitor"
    assert json.loads(variables["MONITOR_ARGUMENTS"])[:2] == ["--problem-type", "BinaryClassification"]
    assert "MODEL_MONITOR" not in variables  # our engine: no Model Monitor schedules to manage


def test_the_schedule_rule_uses_the_configured_cron_and_names_the_endpoint(staging):
    staging.has_resource_properties("AWS::Events::Rule", {
        "ScheduleExpression": load_config("staging").monitoring.schedule,
        "Targets": [Match.object_like({"Input": Match.serialized_json({"action": "monitor", "endpoint": "mlp-stg-endpoint"})})]})


def test_completed_monitoring_jobs_reach_the_function(staging):
    staging.has_resource_properties("AWS::Events::Rule", {"EventPattern": {
        "source": ["aws.sagemaker"], "detail-type": ["SageMaker Processing Job State Change"],
        "detail": {"ProcessingJobStatus": ["Completed"],
                   "$or": [{"ProcessingJobName": [{"prefix": "mlp-stg-monitor-"}]}]}}})


def test_the_job_role_is_for_sagemaker_of_this_account_and_may_start_only_our_jobs(staging):
    staging.has_resource_properties("AWS::IAM::Role", {
        "RoleName": f"mlp-stg-{RolePurpose.MONITORING_JOB}",
        "AssumeRolePolicyDocument": {"Statement": [Match.object_like({
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Condition": {"StringEquals": {"aws:SourceAccount": "222222222222"}}})]}})
    statements = {st.get("Sid"): st for policy in staging.find_resources("AWS::IAM::ManagedPolicy").values()
                  for st in policy["Properties"]["PolicyDocument"]["Statement"]}
    start = statements["StartOurMonitoringJobs"]
    assert sorted(start["Action"]) == ["sagemaker:AddTags", "sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob"]
    # (the partition is a token: these stages are built without cdk.json's partition-literal flag)
    assert start["Resource"] == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":sagemaker:eu-west-1:222222222222:processing-job/mlp-stg-monitor-*"]]}
    assert statements["PassJobRoleToSageMakerOnly"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert statements["PublishMonitoringMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "MLPlatform/ModelMonitoring"}}


@pytest.mark.parametrize("metric", ["DriftedFeatures", "Violations", "PredictionDrift", "ModelQualityViolations"])
def test_drift_and_quality_alarms_notify_the_alert_topic(staging, metric):
    staging.has_resource_properties("AWS::CloudWatch::Alarm", {
        "Namespace": "MLPlatform/ModelMonitoring", "MetricName": metric,
        "Dimensions": [{"Name": "Endpoint", "Value": "mlp-stg-endpoint"}], "Period": 3600,
        "TreatMissingData": "notBreaching", "AlarmActions": [Match.any_value()], "OKActions": [Match.any_value()]})


def test_no_retraining_rule_unless_configured(stages, template_of):
    for env in ("staging", "prod"):
        rules = template_of(stages[env].monitoring).find_resources("AWS::Events::Rule", {"Properties": {
            "EventPattern": {"detail-type": ["CloudWatch Alarm State Change"]}}})
        assert rules == {}


def test_the_monitoring_roles_may_use_the_models_key(stages, models_key_users):
    users = models_key_users(stages["staging"])
    for purpose in (RolePurpose.MONITORING_JOB, RolePurpose.MONITORING_RUNNER, RolePurpose.MODEL_MONITOR):
        assert f"arn:aws:iam::222222222222:role/mlp-stg-{purpose}" in users


def test_the_training_pipeline_registers_the_baseline_with_the_model(stages, template_of):
    (pipeline,) = template_of(stages["staging"].training).find_resources("AWS::SageMaker::Pipeline").values()
    definition = json.loads(pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"][0])
    steps = {step["Name"]: step for step in definition["Steps"]}
    baseline = steps["MonitoringBaseline"]["Arguments"]
    assert {i["InputName"] for i in baseline["ProcessingInputs"]} == {"train", "test", "model", "code"}
    assert "monitoring/baseline.py" not in baseline["AppSpecification"]["ContainerEntrypoint"][2]
    assert baseline["AppSpecification"]["ContainerEntrypoint"][2].endswith('baseline.py "$@"')
    assert baseline["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == "${ModelsKey}"
    assert steps["CheckModelQuality"]["DependsOn"] == ["MonitoringBaseline"]
    register = steps["CheckModelQuality"]["Arguments"]["IfSteps"][0]["Arguments"]
    statistics = register["DriftCheckBaselines"]["ModelDataQuality"]["Statistics"]["S3Uri"]
    assert statistics == {"Std:Join": {"On": "/", "Values": [
        {"Get": "Steps.MonitoringBaseline.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"}, "statistics.json"]}}
    assert register["ModelMetrics"]["ModelDataQuality"]["Constraints"]["S3Uri"]["Std:Join"]["Values"][1] == "constraints.json"
