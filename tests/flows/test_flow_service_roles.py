"""Roles AWS services take to act for the platform: EventBridge starting the training pipeline,
VPC flow logs delivery, API Gateway writing its execution and access logs."""
from __future__ import annotations

import pytest
from flowcheck.calls import Call, assume, log_group_name, logs_write
from flowcheck.flow import Flow, assert_authorized
from flowcheck.policy import Principal

from ml_platform.config import ENVIRONMENTS


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_eventbridge_starts_the_training_pipeline(platforms, env):
    # GIVEN the rules targeting the pipeline (schedule, new training data), WHEN they fire,
    # THEN EventBridge may take the target's role and that role may start the pipeline.
    platform, stage = platforms[env], platforms[env].stage
    pipelines = {stage.arn(s, lid) for s, lid, _ in stage.resources("AWS::SageMaker::Pipeline")}
    flow = Flow(f"{env}: EventBridge starts the pipeline")
    for stack, _, resource in stage.resources("AWS::Events::Rule"):
        for target in stage.properties(stack, resource).get("Targets", []):
            if target["Arn"] in pipelines:
                role = Principal.role(target["RoleArn"])
                flow.add([assume(platform, "events.amazonaws.com", role),
                          Call(role, "sagemaker:StartPipelineExecution", target["Arn"], {}, "rule target")])
    assert len(flow.checks) >= 2, "no EventBridge rule starts the training pipeline"
    assert_authorized(platform, flow)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_vpc_flow_logs_are_delivered(platforms, env):
    platform, stage = platforms[env], platforms[env].stage
    flow = Flow(f"{env}: VPC flow logs")
    for stack, _, resource in stage.resources("AWS::EC2::FlowLog"):
        props = stage.properties(stack, resource)
        role = Principal.role(props["DeliverLogsPermissionArn"])
        group = props["LogGroupName"]
        flow.add([assume(platform, "vpc-flow-logs.amazonaws.com", role),
                  Call(role, "logs:DescribeLogStreams",
                       f"arn:aws:logs:{platform.region}:{platform.account}:log-group:{group}:log-stream:x")])
        flow.add(logs_write(platform, role, group, "flow log records"))
    assert_authorized(platform, flow)


@pytest.mark.parametrize("env", [e for e in ENVIRONMENTS if e != "dev"])
def test_api_gateway_writes_its_logs(platforms, env):
    platform, stage = platforms[env], platforms[env].stage
    role = Principal.role(next(stage.properties(s, r)["CloudWatchRoleArn"]
                               for s, _, r in stage.resources("AWS::ApiGateway::Account")))
    api = next(stage.ref(s, lid) for s, lid, _ in stage.resources("AWS::ApiGateway::RestApi"))
    flow = Flow(f"{env}: API Gateway logs").add([assume(platform, "apigateway.amazonaws.com", role)])
    for stack, _, resource in stage.resources("AWS::ApiGateway::Stage"):
        props = stage.properties(stack, resource)
        flow.add(logs_write(platform, role, log_group_name(platform, props["AccessLogSetting"]["DestinationArn"]),
                            "access logs"))
        flow.add(logs_write(platform, role, f"API-Gateway-Execution-Logs_{api}/{props['StageName']}",
                            "execution logs"))
    assert_authorized(platform, flow)
