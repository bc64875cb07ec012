"""Serving API front (issue 5): IAM-signed REST API, throttled and logged stage, WAF in prod, thin VPC proxy."""
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


def _variant_stage(env: str, **endpoint) -> MlPlatformStage:
    config = load_config(env)
    config = config.model_copy(update={"endpoint": config.endpoint.model_copy(update=endpoint)})
    return MlPlatformStage(cdk.App(context=CDK_CONTEXT), env.capitalize(), config=config)


def _statements(template: Template, role_name: str) -> list[dict]:
    (role,) = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": role_name}}).values()
    managed = template.find_resources("AWS::IAM::ManagedPolicy")
    return [s for ref in role["Properties"]["ManagedPolicyArns"] if isinstance(ref, dict) and ref.get("Ref") in managed
            for s in managed[ref["Ref"]]["Properties"]["PolicyDocument"]["Statement"]]


def _proxy(template: Template) -> dict:
    (function,) = [f["Properties"] for f in template.find_resources("AWS::Lambda::Function").values()
                   if f["Properties"]["Description"].startswith("Forwards API requests")]
    return function


def test_dev_has_no_api(dev_stage, template_of):
    t = template_of(dev_stage.serving)
    for cfn_type in ("AWS::ApiGateway::RestApi", "AWS::WAFv2::WebACL", "AWS::WAFv2::WebACLAssociation"):
        t.resource_count_is(cfn_type, 0)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_every_method_requires_iam_authorization(stages, template_of, env):
    t = template_of(stages[env].serving)
    methods = t.find_resources("AWS::ApiGateway::Method")
    assert methods and all(m["Properties"]["AuthorizationType"] == "AWS_IAM" for m in methods.values())
    t.has_resource_properties("AWS::ApiGateway::Method", {
        "HttpMethod": "POST", "AuthorizationType": "AWS_IAM",
        "RequestParameters": {"method.request.header.Content-Type": True},
        "RequestModels": {"application/json": Match.any_value()},
        "RequestValidatorId": Match.any_value(), "Integration": Match.object_like({"Type": "AWS_PROXY"})})
    t.has_resource_properties("AWS::ApiGateway::RequestValidator",
                              {"ValidateRequestBody": True, "ValidateRequestParameters": True})
    t.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "invocations"})


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_regional_api_enforces_tls12(stages, template_of, env):
    t = template_of(stages[env].serving)
    t.has_resource_properties("AWS::ApiGateway::RestApi", {
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
        "SecurityPolicy": "SecurityPolicy_TLS13_1_2_2021_06", "EndpointAccessMode": "STRICT"})


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_stage_throttles_logs_and_traces_without_payload_data(stages, template_of, env):
    t = template_of(stages[env].serving)
    endpoint = load_config(env).endpoint
    t.has_resource_properties("AWS::ApiGateway::Stage", {
        "TracingEnabled": True,
        "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("requestId")},
        "MethodSettings": [Match.object_like({
            "ThrottlingRateLimit": endpoint.api_throttle_rate_per_second,
            "ThrottlingBurstLimit": endpoint.api_throttle_burst,
            "LoggingLevel": "INFO", "DataTraceEnabled": False, "MetricsEnabled": True})]})
    stage = next(iter(t.find_resources("AWS::ApiGateway::Stage").values()))["Properties"]
    access_group = stage["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    group = t.find_resources("AWS::Logs::LogGroup")[access_group]["Properties"]
    assert "KmsKeyId" in group and group["RetentionInDays"] == load_config(env).log_retention_days


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_account_logging_role_is_ours_not_the_managed_policy(stages, template_of, env):
    # GIVEN the one API Gateway account setting (the RestApi makes none of its own)
    t = template_of(stages[env].serving)
    (account,) = t.find_resources("AWS::ApiGateway::Account").values()
    role_id, _ = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"]
    role = t.find_resources("AWS::IAM::Role")[role_id]["Properties"]
    # THEN its role is the platform's, and its only policies are this stack's own (not the AWS-managed
    # AmazonAPIGatewayPushToCloudWatchLogs, which writes to every log group)
    assert role["RoleName"] == f"{load_config(env).name_prefix}-apigateway-cloudwatch"
    own = t.find_resources("AWS::IAM::ManagedPolicy")
    assert role["ManagedPolicyArns"] and all(isinstance(arn, dict) and arn.get("Ref") in own
                                             for arn in role["ManagedPolicyArns"])


def test_prod_stage_is_guarded_by_waf_with_managed_groups_and_rate_rule(prod_stage, template_of):
    t = template_of(prod_stage.serving)
    (acl,) = t.find_resources("AWS::WAFv2::WebACL").values()
    rules = {r["Name"]: r for r in acl["Properties"]["Rules"]}
    assert acl["Properties"]["Scope"] == "REGIONAL"
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesAmazonIpReputationList"} <= set(rules)
    rate = rules["RatePerSourceIp"]["Statement"]["RateBasedStatement"]
    assert rate == {"Limit": load_config("prod").endpoint.api_waf_rate_limit, "AggregateKeyType": "IP"}
    (association,) = t.find_resources("AWS::WAFv2::WebACLAssociation").values()
    (stage_id,) = t.find_resources("AWS::ApiGateway::Stage")
    (api_id,) = t.find_resources("AWS::ApiGateway::RestApi")
    # the API's stage, not some other resource
    assert association["Properties"]["ResourceArn"] == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":apigateway:eu-west-1::/restapis/", {"Ref": api_id}, "/stages/",
        {"Ref": stage_id}]]}
    t.has_resource_properties("AWS::WAFv2::LoggingConfiguration", {"LogDestinationConfigs": Match.any_value()})
    t.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": Match.string_like_regexp("^aws-waf-logs-"),
                                                      "KmsKeyId": Match.any_value()})


def test_staging_api_has_no_waf(stages, template_of):
    t = template_of(stages["staging"].serving)
    t.resource_count_is("AWS::ApiGateway::RestApi", 1)
    t.resource_count_is("AWS::WAFv2::WebACL", 0)
    t.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)


def test_dev_with_api_but_no_waf_has_no_association():
    t = Template.from_stack(_variant_stage("dev", api_gateway=True).serving)
    t.resource_count_is("AWS::ApiGateway::RestApi", 1)
    t.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_proxy_runs_in_vpc_with_concurrency_dlq_tracing(stages, template_of, env):
    t = template_of(stages[env].serving)
    function = _proxy(t)
    assert function["Runtime"] == "python3.12" and function["TracingConfig"] == {"Mode": "Active"}
    assert function["ReservedConcurrentExecutions"] == load_config(env).endpoint.api_proxy_reserved_concurrency
    assert len(function["VpcConfig"]["SubnetIds"]) >= 2 and function["VpcConfig"]["SecurityGroupIds"]
    # API Gateway invokes it synchronously: no dead-letter queue (Lambda would never use it; issue 9 defect 7).
    assert "DeadLetterConfig" not in function and function["Environment"]["Variables"]["ENDPOINT_NAME"].endswith("-endpoint")


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_proxy_role_may_invoke_this_endpoint_only(stages, template_of, env, models_key_users):
    t = template_of(stages[env].serving)
    config = load_config(env)
    statements = _statements(t, f"{config.name_prefix}-endpoint-proxy")
    invoke = [s for s in statements if "sagemaker:InvokeEndpoint" in s["Action"]]
    assert len(invoke) == 1 and invoke[0]["Action"] == "sagemaker:InvokeEndpoint"
    serving = stages[env].serving
    assert invoke[0]["Resource"] == serving.resolve(
        f"arn:{serving.partition}:sagemaker:{config.region}:{config.account}:endpoint/{config.name_prefix}-endpoint")
    assert not any(a.startswith("sagemaker:") and a != "sagemaker:InvokeEndpoint"
                   for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    # Its dead-letter queue and environment are encrypted with the models key.
    assert f"arn:aws:iam::{config.account}:role/{config.name_prefix}-endpoint-proxy" in models_key_users(stages[env])


@pytest.mark.parametrize("update, message", [({"api_waf": True}, "api_waf guards the API"),
                                             ({"api_gateway": True, "mode": "async"}, "realtime or serverless")])
def test_inconsistent_api_settings_fail_before_any_construct(update, message):
    from pydantic import ValidationError

    from ml_platform.config_sections.serving import EndpointConfig
    with pytest.raises(ValidationError, match=message):
        EndpointConfig.model_validate({"mode": "realtime", **update})
