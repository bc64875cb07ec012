"""Serving stack: endpoint configs, autoscaling, safe rollout and the approval-driven deployer, per environment."""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from ml_platform.config import load_config
from ml_platform.stages.platform_stage import MlPlatformStage

# The feature flags the CLI passes (cdk.json), for the stages built here with other endpoint settings.
CDK_CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]

PACKAGE = "arn:aws:sagemaker:eu-west-1:{account}:model-package/{prefix}-models/1"


def _variant_stage(env: str, **endpoint) -> MlPlatformStage:
    config = load_config(env)
    config = config.model_copy(update={"endpoint": config.endpoint.model_copy(update=endpoint)})
    return MlPlatformStage(cdk.App(context=CDK_CONTEXT), env.capitalize(), config=config)


@pytest.fixture(scope="module")
def pinned_staging_stage() -> MlPlatformStage:
    """Staging with its first model pinned in configuration: the stack owns the endpoint."""
    return _variant_stage("staging", initial_model_package_arn=PACKAGE.format(account="222222222222",
                                                                               prefix="mlp-stg"))


@pytest.fixture(scope="module")
def pinned_staging(pinned_staging_stage) -> Template:
    return Template.from_stack(pinned_staging_stage.serving)  # not the session cache: same path as the shared stage


@pytest.fixture(scope="module")
def pinned_async() -> Template:
    # Without off-hours scaling (staging's is for its real-time endpoint): free to scale to zero any time.
    stage = _variant_stage("staging", mode="async", min_instances=1, max_instances=3, off_hours=None,
                           initial_model_package_arn=PACKAGE.format(account="222222222222", prefix="mlp-stg"))
    return Template.from_stack(stage.serving)  # not the session cache: same path as the shared stage


@pytest.fixture(scope="module")
def pinned_dev() -> Template:
    stage = _variant_stage("dev", initial_model_package_arn=PACKAGE.format(account="111111111111", prefix="mlp-dev"))
    return Template.from_stack(stage.serving)  # not the session cache: same path as the shared stage


def _one(template: Template, cfn_type: str) -> dict:
    found = template.find_resources(cfn_type)
    assert len(found) == 1, f"{cfn_type}: {len(found)}"
    return next(iter(found.values()))["Properties"]


def _deployer(template: Template) -> dict:
    """The deployer function (the stack may also hold the API's proxy function)."""
    found = [f["Properties"] for f in template.find_resources("AWS::Lambda::Function").values()
             if f["Properties"]["Description"].startswith("Deploys approved")]
    assert len(found) == 1
    return found[0]


def _env(template: Template) -> dict:
    function = _deployer(template)
    return function["Environment"]["Variables"]


TOKEN = "<resolved at deploy>"


def _spec(template: Template) -> dict:
    """The deployer's ENDPOINT_SPEC document: a JSON string, or CloudFormation's join of one around
    references (each reference stands inside a JSON string, so it parses with a placeholder)."""
    value = _env(template)["ENDPOINT_SPEC"]
    if isinstance(value, dict):
        separator, parts = value["Fn::Join"]
        value = separator.join(p if isinstance(p, str) else TOKEN for p in parts)
    return json.loads(value)


# --- empty registry: no endpoint in the stack, the deployer creates it -----------------------

@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_first_run_creates_no_endpoint_only_the_deployer(stages, template_of, env):
    t = template_of(stages[env].serving)
    for cfn_type in ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint",
                     "AWS::ApplicationAutoScaling::ScalableTarget"):
        t.resource_count_is(cfn_type, 0)
    t.resource_count_is("AWS::Lambda::Function", 2 if load_config(env).endpoint.api_gateway else 1)


def test_dev_is_serverless_without_vpc_or_capture(dev_stage, template_of):
    env = _env(template_of(dev_stage.serving))
    spec = _spec(template_of(dev_stage.serving))
    assert spec["ProductionVariant"]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "DataCaptureConfig" not in spec and "InstanceType" not in spec["ProductionVariant"]
    assert env["SUBNET_IDS"] == "" and env["SCALING_SPEC"] == ""  # SageMaker serverless supports no VPC


@pytest.mark.parametrize("env,instance,count,max_count", [("staging", "ml.c5.large", 1, 2),
                                                          ("prod", "ml.c5.xlarge", 2, 6)])
def test_staging_and_prod_are_realtime_per_config(stages, template_of, env, instance, count, max_count):
    t = template_of(stages[env].serving)
    spec, variables = _spec(t), _env(t)
    variant = spec["ProductionVariant"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == (instance, count)
    assert spec["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    scaling = json.loads(variables["SCALING_SPEC"])
    assert scaling["Target"]["MinCapacity"] == count and scaling["Target"]["MaxCapacity"] == max_count
    assert variables["SUBNET_IDS"] and variables["SECURITY_GROUP_IDS"]


# --- pinned first model: CloudFormation owns model, config and endpoint ----------------------

def test_endpoint_config_encrypts_volumes_and_captured_data(pinned_staging, pinned_staging_stage, reference):
    config = _one(pinned_staging, "AWS::SageMaker::EndpointConfig")
    stage = pinned_staging_stage
    assert config["KmsKeyId"] == reference(stage.serving, stage.security.keys.models)
    capture = config["DataCaptureConfig"]
    assert capture["InitialSamplingPercentage"] == 20 and capture["KmsKeyId"] == config["KmsKeyId"]
    assert capture["DestinationS3Uri"] == "s3://mlp-stg-artifacts-222222222222-eu-west-1/data-capture"
    assert config["EndpointConfigName"].startswith("mlp-stg-endpoint-config-")
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.c5.large"


def test_model_from_package_in_vpc_with_network_isolation(pinned_staging):
    model = _one(pinned_staging, "AWS::SageMaker::Model")
    assert model["PrimaryContainer"] == {"ModelPackageName": PACKAGE.format(account="222222222222", prefix="mlp-stg")}
    assert model["EnableNetworkIsolation"] is True
    assert len(model["VpcConfig"]["Subnets"]) == 2 and len(model["VpcConfig"]["SecurityGroupIds"]) == 1


@pytest.fixture(scope="module")
def pinned_canary() -> Template:
    """Staging pinned, on two instances so that a canary fits the fleet (issue 9 defect 11)."""
    return Template.from_stack(_variant_stage(
        "staging", rollout="canary", min_instances=2, max_instances=2,
        initial_model_package_arn=PACKAGE.format(account="222222222222", prefix="mlp-stg")).serving)


def test_endpoint_rolls_out_canary_with_baking_and_alarm_rollback(pinned_canary):
    endpoint = _one(pinned_canary, "AWS::SageMaker::Endpoint")
    assert endpoint["EndpointName"] == "mlp-stg-endpoint" and endpoint["RetainAllVariantProperties"] is True
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TerminationWaitInSeconds"] == 600
    assert policy["TrafficRoutingConfiguration"] == {"Type": "CANARY", "WaitIntervalInSeconds": 300,
                                                     "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}
    alarms = endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert len(alarms) == 2


def test_rollback_alarms_watch_5xx_and_latency_of_the_variant(pinned_staging):
    alarms = pinned_staging.find_resources("AWS::CloudWatch::Alarm")
    by_metric = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms.values()}
    assert by_metric["Invocation5XXErrors"]["AlarmName"] == "mlp-stg-endpoint-5xx-errors"
    assert by_metric["ModelLatency"]["Threshold"] == 500_000  # 500 ms in microseconds
    for alarm in (by_metric["Invocation5XXErrors"], by_metric["ModelLatency"]):
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"EndpointName": "mlp-stg-endpoint",
                                                                        "VariantName": "AllTraffic"}
        assert alarm["AlarmActions"]  # the operations alert topic


def test_realtime_autoscaling_tracks_invocations_per_instance(pinned_staging):
    pinned_staging.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {
        "ServiceNamespace": "sagemaker", "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "ResourceId": "endpoint/mlp-stg-endpoint/variant/AllTraffic", "MinCapacity": 1, "MaxCapacity": 2})
    pinned_staging.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({
            "TargetValue": 100, "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})})


def test_async_outputs_and_topics_are_encrypted_and_scale_to_zero(pinned_async):
    config = _one(pinned_async, "AWS::SageMaker::EndpointConfig")
    output = config["AsyncInferenceConfig"]["OutputConfig"]
    assert output["S3OutputPath"].endswith("/async-inference/output")
    assert output["S3FailurePath"].endswith("/async-inference/failure")
    assert output["KmsKeyId"] == config["KmsKeyId"]
    assert set(output["NotificationConfig"]) == {"SuccessTopic", "ErrorTopic"}
    assert config["AsyncInferenceConfig"]["ClientConfig"]["MaxConcurrentInvocationsPerInstance"] == 4
    topics = pinned_async.find_resources("AWS::SNS::Topic")
    assert len(topics) == 2 and all("KmsMasterKeyId" in t["Properties"] for t in topics.values())
    pinned_async.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget",
                                         {"MinCapacity": 0, "MaxCapacity": 3})
    pinned_async.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "TargetTrackingScalingPolicyConfiguration": Match.object_like({"CustomizedMetricSpecification": Match.object_like(
            {"MetricName": "ApproximateBacklogSizePerInstance"})})})
    pinned_async.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {"PolicyType": "StepScaling"})
    pinned_async.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "HasBacklogWithoutCapacity"})


def test_pinned_serverless_model_is_outside_vpc_and_not_captured(pinned_dev):
    model = _one(pinned_dev, "AWS::SageMaker::Model")
    assert "VpcConfig" not in model
    config = _one(pinned_dev, "AWS::SageMaker::EndpointConfig")
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {"MaxConcurrency": 5, "MemorySizeInMB": 2048}
    assert "DataCaptureConfig" not in config


# --- approval-driven deployment -----------------------------------------------------------

@pytest.mark.parametrize("env,prefix", [("dev", "mlp-dev"), ("staging", "mlp-stg")])
def test_dev_and_staging_deploy_on_approval(stages, template_of, env, prefix):
    t = template_of(stages[env].serving)
    t.has_resource_properties("AWS::Events::Rule", {"EventPattern": {
        "source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [f"{prefix}-models"], "ModelApprovalStatus": ["Approved"]}},
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [Match.any_value(), "Arn"]}})]})


def test_prod_has_no_approval_rule(prod_stage, template_of):
    rules = template_of(prod_stage.serving).find_resources("AWS::Events::Rule")
    patterns = [r["Properties"]["EventPattern"]["detail-type"] for r in rules.values()]
    assert ["SageMaker Model Package State Change"] not in patterns


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_deployer_runs_in_vpc_with_concurrency_dlq_tracing(stages, template_of, env):
    t = template_of(stages[env].serving)
    function = _deployer(t)
    assert function["Runtime"] == "python3.12" and function["TracingConfig"] == {"Mode": "Active"}
    # Reserved only where configured (dev: unreserved, issue 9 defect 14).
    assert function.get("ReservedConcurrentExecutions") == load_config(env).endpoint.deployer_reserved_concurrency
    assert len(function["VpcConfig"]["SubnetIds"]) >= 2 and function["VpcConfig"]["SecurityGroupIds"]
    assert "DeadLetterConfig" in function
    for queue in t.find_resources("AWS::SQS::Queue").values():
        assert "KmsMasterKeyId" in queue["Properties"]
    t.has_resource_properties("AWS::SQS::QueuePolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}})
    for log_group in t.find_resources("AWS::Logs::LogGroup").values():
        props = log_group["Properties"]
        assert "KmsKeyId" in props and props["RetentionInDays"] == load_config(env).log_retention_days


# --- roles -------------------------------------------------------------------------------

def _statements(template: Template, role_name: str) -> list[dict]:
    (role,) = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": role_name}}).values()
    managed = template.find_resources("AWS::IAM::ManagedPolicy")
    policies = [managed[ref["Ref"]]["Properties"] for ref in role["Properties"]["ManagedPolicyArns"]
                if isinstance(ref, dict) and ref.get("Ref") in managed]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def test_deployer_may_touch_only_its_endpoint_and_pass_only_the_model_role(stages, template_of, reference):
    statements = _statements(template_of(stages["staging"].serving), "mlp-stg-endpoint-deployer")
    deploy = next(s for s in statements if s.get("Sid") == "DeployThisEndpointOnly")
    serving = stages["staging"].serving
    base = f"arn:{serving.partition}:sagemaker:eu-west-1:222222222222"
    assert _same_items(deploy["Resource"], [serving.resolve(f"{base}:model/mlp-stg-endpoint-*"),
                                            serving.resolve(f"{base}:endpoint-config/mlp-stg-endpoint-*"),
                                            serving.resolve(f"{base}:endpoint/mlp-stg-endpoint")])
    passes = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert len(passes) == 1 and passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert passes[0]["Resource"] == reference(serving, serving.model_role)
    for s in statements:  # every "*" resource is one of the documented, resource-less actions
        if s["Resource"] == "*":
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            assert all(a.startswith(("application-autoscaling:", "sagemaker:ListModelPackages", "xray:Put", "ec2:"))
                       for a in actions)


def test_model_role_reads_artifacts_and_writes_only_output_prefixes(stages, template_of):
    statements = _statements(template_of(stages["staging"].serving), "mlp-stg-sagemaker-model")
    serving = stages["staging"].serving
    bucket = f"arn:{serving.partition}:s3:::mlp-stg-artifacts-222222222222-eu-west-1"
    outputs = [serving.resolve(f"{bucket}/data-capture/*"), serving.resolve(f"{bucket}/async-inference/*")]
    puts = [s for s in statements if "s3:PutObject" in _listed(s["Action"])]
    assert _same_items([r for s in puts for r in _listed(s["Resource"])], outputs)
    assert any(serving.resolve(f"{bucket}/*") in _listed(s["Resource"]) and "s3:GetObject*" in _listed(s["Action"])
               for s in statements)
    trust = _one_role(template_of(stages["staging"].serving), "mlp-stg-sagemaker-model")
    assert [st["Principal"] for st in trust["Statement"]] == [{"Service": "sagemaker.amazonaws.com"}]


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _same_items(found: list, expected: list) -> bool:
    """The same CloudFormation values in any order (resolved values are dicts: no sorting)."""
    return len(found) == len(expected) and all(found.count(v) == expected.count(v) for v in expected)


def _one_role(template: Template, name: str) -> dict:
    (role,) = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": name}}).values()
    return role["Properties"]["AssumeRolePolicyDocument"]


def test_serving_roles_may_use_the_models_key(dev_stage, models_key_users):
    users = models_key_users(dev_stage)
    for purpose in ("sagemaker-model", "endpoint-deployer"):
        assert f"arn:aws:iam::111111111111:role/mlp-dev-{purpose}" in users


# --- multi-model: the deployer stages approved archives under the endpoint's prefix -------------

def _by_sid(template: Template, role_name: str) -> dict:
    return {s["Sid"]: s for s in _statements(template, role_name) if s.get("Sid")}


def test_multi_model_deployer_reads_pipelines_writes_only_multi_model_prefix_with_models_key():
    stage = _variant_stage("staging", multi_model=True)
    t = Template.from_stack(stage.serving)
    env = _deployer(t)["Environment"]["Variables"]
    assert env["MULTI_MODEL_PREFIX"] == "s3://mlp-stg-artifacts-222222222222-eu-west-1/multi-model/"
    # The models key's ARN, exported by the Security stack.
    assert set(env["MULTI_MODEL_KMS_KEY_ID"]) == {"Fn::ImportValue"}
    statements = _by_sid(t, "mlp-stg-endpoint-deployer")
    assert statements["ReadApprovedArchives"]["Resource"] == \
        "arn:aws:s3:::mlp-stg-artifacts-222222222222-eu-west-1/pipelines/*"
    assert "s3:PutObject" not in statements["ReadApprovedArchives"]["Action"]
    assert statements["StageMultiModelArchives"]["Resource"] == \
        "arn:aws:s3:::mlp-stg-artifacts-222222222222-eu-west-1/multi-model/*"
    assert statements["ListMultiModelPrefix"]["Condition"] == {"StringLike": {"s3:prefix": ["multi-model/*"]}}
