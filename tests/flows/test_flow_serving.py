"""Serving flows: the approval-driven deployer (every boto3 call its code makes, the grants
SageMaker needs for the endpoint's key, EventBridge invoking it), the endpoint's model role at run
time (image, model data, inference code, data capture, logs), and the API proxy."""
from __future__ import annotations

import json

import pytest
from flowcheck.calls import Call, assume, image_pull, logs_write, pass_role, s3_read, s3_write, vpc_network_interfaces
from flowcheck.flow import Flow, assert_authorized
from flowcheck.lambdas import boto3_calls, functions, iam_actions
from flowcheck.policy import Principal
from flowcheck.sagemaker import SAGEMAKER, model_container_checks, pipeline_of, steps

from ml_platform.config import ENVIRONMENTS


@pytest.fixture(scope="module")
def deployers(platforms, cdk_out):
    return {env: functions(p, cdk_out / f"assembly-{env.capitalize()}")["endpoint_deployer"]
            for env, p in platforms.items()}


def _arn(platform, kind, name):
    return f"arn:aws:sagemaker:{platform.region}:{platform.account}:{kind}/{name}"


def deployer_flow(platform, deployer) -> Flow:
    """Everything one deployment and one autoscaling registration call, resources from the templates."""
    env, role = deployer.environment, deployer.role
    spec, group = json.loads(env["ENDPOINT_SPEC"]), env["MODEL_PACKAGE_GROUP"]
    endpoint = spec["EndpointName"]
    model = _arn(platform, "model", f"{endpoint}-model-0123456789ab")
    config = _arn(platform, "endpoint-config", f"{endpoint}-config-0123456789ab")
    flow = Flow(f"deployer of {endpoint}").add(deployer.runtime_checks(platform))
    flow.add([Call(role, "sagemaker:DescribeModelPackage", _arn(platform, "model-package", f"{group}/1")),
              Call(role, "sagemaker:ListModelPackages", "*"),
              Call(role, "sagemaker:DescribeModel", model), Call(role, "sagemaker:CreateModel", model),
              Call(role, "sagemaker:AddTags", model, {}, "CreateModel with Tags"),
              pass_role(role, env["EXECUTION_ROLE_ARN"], SAGEMAKER, "CreateModel ExecutionRoleArn"),
              Call(role, "sagemaker:DescribeEndpointConfig", config),
              Call(role, "sagemaker:CreateEndpointConfig", config)])
    for key in {spec["KmsKeyId"], spec.get("DataCaptureConfig", {}).get("KmsKeyId")} - {None}:
        # CreateEndpointConfig with a KmsKeyId: SageMaker creates a grant in the caller's name.
        flow.add([Call(role, "kms:DescribeKey", key, {}, "endpoint config key"),
                  Call(role, "kms:CreateGrant", key, {"kms:GrantIsForAWSResource": "true"}, "endpoint config key")])
    for alarm in spec.get("DeploymentConfig", {}).get("AutoRollbackConfiguration", {}).get("Alarms", []):
        # UpdateEndpoint with auto-rollback: SageMaker reads the alarms as the caller.
        flow.add([Call(role, "cloudwatch:DescribeAlarms",
                       f"arn:aws:cloudwatch:{platform.region}:{platform.account}:alarm:{alarm['AlarmName']}", {},
                       "rollback alarms")])
    endpoint_arn = _arn(platform, "endpoint", endpoint)
    flow.add(Call(role, f"sagemaker:{a}", endpoint_arn)
             for a in ("DescribeEndpoint", "CreateEndpoint", "UpdateEndpoint"))
    scaling = json.loads(env["SCALING_SPEC"]) if env.get("SCALING_SPEC") else None
    if scaling:
        flow.add(Call(role, f"application-autoscaling:{a}", "*")
                 for a in ("RegisterScalableTarget", "PutScalingPolicy", "PutScheduledAction"))
        flow.add([Call(role, "iam:CreateServiceLinkedRole", f"arn:aws:iam::{platform.account}:role/aws-service-role/"
                       "sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_"
                       "SageMakerEndpoint", {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"},
                       "first RegisterScalableTarget")])
        alarm = f"arn:aws:cloudwatch:{platform.region}:{platform.account}:alarm:{endpoint}-scaling"
        flow.add([Call(role, "cloudwatch:PutMetricAlarm", alarm, {}, "step-scaling alarms")])
    if env.get("MULTI_MODEL_PREFIX"):
        flow.add(s3_read(platform, role, env["MULTI_MODEL_PREFIX"], "multi-model: staged archive")
                 + s3_write(platform, role, env["MULTI_MODEL_PREFIX"], "multi-model: stage archive",
                            env.get("MULTI_MODEL_KMS_KEY_ID") or None))
    return flow


def _rules_targeting(platform, function_arn):
    stage = platform.stage
    for stack, logical_id, resource in stage.resources("AWS::Events::Rule"):
        props = stage.properties(stack, resource)
        if any(t["Arn"] == function_arn for t in props.get("Targets", [])):
            yield stage.arn(stack, logical_id)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deployer_flow_covers_every_boto3_call_of_its_code(platforms, deployers, env):
    # GIVEN the deployer's code as shipped, WHEN its boto3 calls are read from the source,
    # THEN the flow checks each of them (a new call without a flow check fails here).
    deployer = deployers[env]
    checked = {c.action.lower() for c in deployer_flow(platforms[env], deployer).checks if isinstance(c, Call)}
    wanted = {a.lower() for s, o in boto3_calls(deployer.code) for a in iam_actions(s, o)}
    if not json.loads(deployer.environment["SCALING_SPEC"] or "null"):
        wanted -= {"application-autoscaling:registerscalabletarget", "application-autoscaling:putscalingpolicy",
                   "application-autoscaling:putscheduledaction", "cloudwatch:putmetricalarm"}
    if not deployer.environment.get("MULTI_MODEL_PREFIX"):
        wanted -= {"s3:listbucket", "s3:getobject", "s3:putobject"}
    assert wanted <= checked, f"calls in the code without a flow check: {sorted(wanted - checked)}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deployer_deploys_an_approved_package(platforms, deployers, env):
    platform, deployer = platforms[env], deployers[env]
    flow = deployer_flow(platform, deployer)
    rules = list(_rules_targeting(platform, deployer.arn))
    assert rules, "no EventBridge rule invokes the deployer"
    flow.add(Call(Principal.of_service("events.amazonaws.com"), "lambda:InvokeFunction", deployer.arn,
                  {"aws:SourceArn": rule, "aws:SourceAccount": platform.account}, "EventBridge rule target")
             for rule in rules)
    assert_authorized(platform, flow)


def _registered_container(platform):
    _, definition = pipeline_of(platform)
    register = next(s for s in steps(definition) if s["Type"] == "RegisterModel")
    return register["Arguments"]["InferenceSpecification"]["Containers"][0], definition


def endpoint_runtime_flow(platform, deployer, *, with_code: bool) -> Flow:
    """The model role while the endpoint runs the registered package."""
    env = deployer.environment
    role, spec = Principal.role(env["EXECUTION_ROLE_ARN"]), json.loads(env["ENDPOINT_SPEC"])
    container, definition = _registered_container(platform)
    flow = Flow(f"endpoint {spec['EndpointName']} at run time").add([assume(platform, SAGEMAKER, role)])
    flow.add(image_pull(platform, role, container["Image"], "model image"))
    model = model_container_checks(platform, role, container, definition, "model container")
    flow.add(c for c in model if with_code or "SAGEMAKER_SUBMIT_DIRECTORY" not in getattr(c, "why", ""))
    flow.add(logs_write(platform, role, f"/aws/sagemaker/Endpoints/{spec['EndpointName']}", "endpoint logs"))
    flow.add([Call(role, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"},
                   "endpoint metrics")])
    capture = spec.get("DataCaptureConfig")
    if capture:
        flow.add(s3_write(platform, role, capture["DestinationS3Uri"], "data capture", capture.get("KmsKeyId")))
    asynchronous = spec.get("AsyncInferenceConfig", {}).get("OutputConfig")
    if asynchronous:
        flow.add(s3_write(platform, role, asynchronous["S3OutputPath"], "async output", asynchronous.get("KmsKeyId")))
    if env.get("SUBNET_IDS"):
        flow.add(vpc_network_interfaces(platform, role, subnets=env["SUBNET_IDS"].split(","),
                                        security_groups=env["SECURITY_GROUP_IDS"].split(","), why="model in the VPC"))
    return flow


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_endpoint_serves_the_registered_model(platforms, deployers, env):
    assert_authorized(platforms[env], endpoint_runtime_flow(platforms[env], deployers[env], with_code=True))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_endpoint_serves_the_registered_model_apart_from_its_code_download(platforms, deployers, env):
    assert_authorized(platforms[env], endpoint_runtime_flow(platforms[env], deployers[env], with_code=False))


@pytest.mark.parametrize("env", [e for e in ENVIRONMENTS if e != "dev"])
def test_api_proxy_invokes_the_endpoint(platforms, cdk_out, env):
    platform = platforms[env]
    proxy = functions(platform, cdk_out / f"assembly-{env.capitalize()}")["endpoint_proxy"]
    endpoint = _arn(platform, "endpoint", proxy.environment["ENDPOINT_NAME"])
    flow = Flow(f"{env}: API proxy").add(proxy.runtime_checks(platform))
    flow.add([Call(proxy.role, "sagemaker:InvokeEndpoint", endpoint, {}, "invoke_endpoint")])
    assert {a for s, o in boto3_calls(proxy.code) for a in iam_actions(s, o)} == {"sagemaker:InvokeEndpoint"}
    stage = platform.stage
    api = next(stage.ref(s, lid) for s, lid, _ in stage.resources("AWS::ApiGateway::RestApi"))
    stage_name = next(stage.properties(s, r)["StageName"] for s, _, r in stage.resources("AWS::ApiGateway::Stage"))
    source = f"arn:aws:execute-api:{platform.region}:{platform.account}:{api}/{stage_name}/POST/invocations"
    flow.add([Call(Principal.of_service("apigateway.amazonaws.com"), "lambda:InvokeFunction", proxy.arn,
                   {"aws:SourceArn": source}, "API Gateway integration")])
    assert_authorized(platform, flow)
