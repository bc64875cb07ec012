"""The Model Monitor engine (set by `monitoring.engine: model_monitor` alone), the configuration
refusals, the Clarify analysis configurations and the image tables."""
from __future__ import annotations

import json
import os
import shutil

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template
from pydantic import ValidationError

from ml_platform.config import CONFIG_DIR, ConfigError, load_config
from ml_platform.config_sections.monitoring import ClarifyConfig, MonitoringConfig
from ml_platform.constructs.monitoring import clarify_config
from ml_platform.constructs.monitoring.images import CLARIFY_ACCOUNTS, clarify_image_uri, model_monitor_image_uri
from ml_platform.report import read_violations
from ml_platform.stages.platform_stage import MlPlatformStage

# The feature flags tests/infra/conftest.py builds its stages with (the CLI's, from cdk.json).
CDK_CONTEXT = {"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
               "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": True, "@aws-cdk/aws-iam:minimizePolicies": True}
MM = {"engine": "model_monitor", "retrain_on_drift": True, "min_auc": 0.8,
      "clarify": {"bias_facet_index": 3, "bias_facet_threshold": 0.5}}


def _config_dir(tmp_path, **monitoring):
    """A copy of config/ whose staging.yaml sets only `monitoring:` keys."""
    folder = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, folder)
    with open(folder / "staging.yaml", "a") as handle:
        handle.write("monitoring: " + json.dumps(monitoring) + "\n")
    return folder


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    config = load_config("staging", _config_dir(tmp_path_factory.mktemp("mm"), **MM))
    stage = MlPlatformStage(cdk.App(context=CDK_CONTEXT), "Staging", config=config)
    return stage, Template.from_stack(stage.monitoring)


def test_one_key_switches_the_engine(engine):
    stage, template = engine
    kinds = {r["Type"] for r in template.to_json()["Resources"].values() if r["Type"].endswith("JobDefinition")}
    assert kinds == {"AWS::SageMaker::DataQualityJobDefinition", "AWS::SageMaker::ModelQualityJobDefinition",
                     "AWS::SageMaker::ModelBiasJobDefinition", "AWS::SageMaker::ModelExplainabilityJobDefinition"}
    # No schedule rule of our engine; the function manages Model Monitor's schedules instead.
    assert template.find_resources("AWS::Events::Rule", {"Properties": {"ScheduleExpression": Match.any_value()}}) == {}
    template.has_resource_properties("AWS::Events::Rule", {"EventPattern": {
        "source": ["aws.sagemaker"], "detail-type": ["SageMaker Endpoint State Change"],
        "detail": {"EndpointName": ["mlp-stg-endpoint"], "EndpointStatus": ["IN_SERVICE"]}}})


@pytest.mark.parametrize("kind, isolated", [("DataQuality", True), ("ModelQuality", True),
                                            ("ModelBias", False), ("ModelExplainability", False)])
def test_job_definitions_run_in_the_vpc_with_kms_and_isolation_where_possible(engine, reference, kind, isolated):
    stage, template = engine
    (definition,) = template.find_resources(f"AWS::SageMaker::{kind}JobDefinition").values()
    props = definition["Properties"]
    network = props["NetworkConfig"]
    assert network["EnableNetworkIsolation"] is isolated  # Clarify calls the model: see model_monitor.py
    assert network["EnableInterContainerTrafficEncryption"] is True
    assert network["VpcConfig"]["Subnets"] and network["VpcConfig"]["SecurityGroupIds"]
    key = props["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"]
    assert key == props[f"{kind}JobOutputConfig"]["KmsKeyId"] == reference(stage.monitoring, stage.security.keys.models)
    assert props["EndpointName"] == "mlp-stg-endpoint"
    assert props["JobDefinitionName"].startswith("mlp-stg-") and len(props["JobDefinitionName"]) <= 63


def test_definition_names_come_from_their_content(tmp_path):
    def names(**monitoring):
        config = load_config("staging", _config_dir(tmp_path / str(len(os.listdir(tmp_path))), **monitoring))
        stack = MlPlatformStage(cdk.App(context=CDK_CONTEXT), "Staging", config=config).monitoring
        return {k: d.get_att("JobDefinitionName") and stack.resolve(d._cfn_properties["JobDefinitionName"])
                for k, d in stack.engine.definitions.items()}

    base, larger = names(engine="model_monitor"), names(engine="model_monitor", instance_type="ml.m5.xlarge")
    again = names(engine="model_monitor")
    assert base == again and all(base[k] != larger[k] for k in base)


def test_the_function_gets_schedules_in_an_accepted_cron_form(engine, joined_json, reference):
    """MODEL_MONITOR tells the function, per endpoint, one schedule per job definition in the cron form
    Model Monitor accepts, and where the baseline and the Clarify analysis configurations are."""
    stage, template = engine
    (function,) = [f for f in template.find_resources("AWS::Lambda::Function").values()
                   if f["Properties"].get("Description", "").startswith("Starts monitoring jobs")]
    (endpoint, watched), = joined_json(function["Properties"]["Environment"]["Variables"]["MODEL_MONITOR"]).items()
    assert endpoint == "mlp-stg-endpoint"
    definitions = stage.monitoring.engine.definitions
    assert watched["schedules"] == [
        {"name": f"mlp-stg-endpoint-{suffix}", "type": kind, "cron": "cron(0 * ? * * *)",
         "definition": reference(stage.monitoring, definitions[kind], "JobDefinitionName")}
        for kind, suffix in (("DataQuality", "dq"), ("ModelQuality", "mq"), ("ModelBias", "bias"),
                             ("ModelExplainability", "explain"))]
    folder = "s3://mlp-stg-artifacts-222222222222-eu-west-1/monitoring/model-monitor/mlp-stg-endpoint"
    assert watched["baseline"] == f"{folder}/current"
    assert set(watched["clarify"]) == {f"{folder}/clarify/bias-analysis.json", f"{folder}/clarify/explain-analysis.json"}


def test_retraining_starts_the_training_pipeline_from_the_drift_alarm(engine):
    _, template = engine
    template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": Match.object_like({"detail-type": ["CloudWatch Alarm State Change"],
                                           "detail": {"state": {"value": ["ALARM"]}}}),
        "Targets": [Match.object_like({"Arn": "arn:aws:sagemaker:eu-west-1:222222222222:pipeline/mlp-stg-training",
                                       "RoleArn": "arn:aws:iam::222222222222:role/mlp-stg-events-start-pipeline"})]})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "AUC", "Threshold": 0.8,
                                                                "ComparisonOperator": "LessThanThreshold"})


def test_the_model_monitor_engine_passes_the_nag_gate_and_cfn_lint(tmp_path, synth_like_the_cli, cfn_lint_errors,
                                                                    monkeypatch):
    monkeypatch.setenv("ML_PLATFORM_CONFIG_DIR", str(_config_dir(tmp_path, **MM)))
    assembly = synth_like_the_cli(tmp_path / "cdk.out", envs="staging")
    assert read_violations(assembly) == []
    assert cfn_lint_errors(assembly, min_templates=9) == ""


@pytest.mark.parametrize("schedule", ["rate(1 hour)", "cron(*/30 * * * ? *)", "cron(15 * ? * * *)", "cron(0 24 ? * * *)"])
def test_schedules_model_monitor_would_refuse_are_refused(schedule):
    with pytest.raises(ValidationError, match="not a schedule Model Monitor accepts"):
        MonitoringConfig(schedule=schedule)


@pytest.mark.parametrize("schedule, hours", [("cron(0 * ? * * *)", 1), ("cron(0 6 ? * * *)", 24),
                                             ("cron(0 0/6 ? * * *)", 6)])
def test_the_window_is_the_time_between_runs(schedule, hours):
    assert MonitoringConfig(schedule=schedule).window_hours == hours


@pytest.mark.parametrize("env, extra, reason", [
    ("dev", {}, "only a real-time endpoint has data capture"),
    ("staging", {"endpoint_capture": 0}, "data_capture_percent is 0"),
    ("staging", {"multi_model": True}, "multi-model endpoint"),
])
def test_unmonitorable_endpoints_are_refused_with_file_field_and_reason(tmp_path, env, extra, reason):
    folder = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, folder)
    text = (folder / f"{env}.yaml").read_text()
    if "endpoint_capture" in extra:
        text = text.replace("endpoint:\n", "endpoint:\n  data_capture_percent: 0\n", 1)
    if "multi_model" in extra:
        text = text.replace("endpoint:\n", "endpoint:\n  multi_model: true\n", 1)
    (folder / f"{env}.yaml").write_text(text + "monitoring:\n  enabled: true\n")
    with pytest.raises(ConfigError) as caught:
        load_config(env, folder)
    assert f"{env}.yaml" in str(caught.value) and "monitoring.enabled" in str(caught.value)
    assert reason in str(caught.value)


def test_clarify_configurations_are_generated_at_synth():
    assert clarify_config.bias_config(ClarifyConfig(), "BinaryClassification", "ml.m5.large") is None
    bias = clarify_config.bias_config(ClarifyConfig(bias_facet_index=2), "BinaryClassification", "ml.m5.large")
    assert bias["facet"] == [{"name_or_index": 2}] and bias["probability_threshold"] == 0.5
    shap = clarify_config.explainability_config(ClarifyConfig(shap_samples=50), "ml.m5.large")
    assert shap["methods"]["shap"]["num_clusters"] == 1 and shap["methods"]["shap"]["num_samples"] == 50
    assert shap["predictor"]["model_name"] == clarify_config.MODEL_NAME_PLACEHOLDER


@pytest.mark.parametrize("region", sorted(CLARIFY_ACCOUNTS))
def test_image_tables_match_the_sagemaker_sdk(region):
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    from sagemaker.core import image_uris

    assert model_monitor_image_uri(region) == image_uris.retrieve("model-monitor", region=region)
    assert clarify_image_uri(region) == image_uris.retrieve("clarify", region=region)
