"""The delivery pipeline's post-deploy check (scripts/post_deploy_check.py), from the pipeline-mode
assembly: the tooling account's check role may assume each stage's post-deploy-check role (and no other
tooling role may), and that role may make every call the script makes, and only those: the pipeline,
the endpoint through the clients' path (the API front where there is one), the alarms."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flowcheck.calls import Call
from flowcheck.evaluate import evaluate
from flowcheck.flow import Flow, assert_authorized
from flowcheck.lambdas import boto3_calls, iam_actions
from flowcheck.platform import Platform
from flowcheck.policy import Principal, Request

from ml_platform.config import ENVIRONMENTS, load_config, load_pipeline_config
from ml_platform.constants import RolePurpose

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "post_deploy_check.py"


@pytest.fixture(scope="module")
def tooling(pipeline_out) -> Platform:
    from flowcheck.build import load_platform
    config = load_pipeline_config()
    return load_platform(pipeline_out, account=config.account, region=config.region)


@pytest.fixture(scope="module")
def stages(pipeline_out) -> dict[str, Platform]:
    from flowcheck.build import load_platform
    return {env: load_platform(pipeline_out / f"assembly-Pipeline-{env.capitalize()}", account=load_config(env).account,
                               region=load_config(env).region) for env in ENVIRONMENTS}


def _check_role(env: str) -> str:
    config = load_config(env)
    return f"arn:aws:iam::{config.account}:role/{config.name_prefix}-{RolePurpose.POST_DEPLOY_CHECK}"


def _tooling_check_role() -> str:
    config = load_pipeline_config()
    return f"arn:aws:iam::{config.account}:role/{config.name_prefix}-{RolePurpose.DELIVERY_CHECK}"


def _assume(tooling: Platform, stage: Platform, principal_arn: str, identity=None):
    role = tooling.roles.get(principal_arn)
    target = _check_role_of(stage)
    return evaluate(Request(Principal.role(principal_arn), "sts:AssumeRole", target),
                    identity=identity if identity is not None else role.policies,
                    boundary=None if identity is not None else role.boundary,
                    resource_policy=stage.roles[target].trust, resource_account=stage.account)


def _check_role_of(stage: Platform) -> str:
    return next(arn for arn in stage.roles if arn.endswith(f":role/{stage.roles[arn].name}")
                and stage.roles[arn].name.endswith(f"-{RolePurpose.POST_DEPLOY_CHECK}"))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pipeline_check_role_assumes_the_stage_check_role_across_accounts(tooling, stages, env):
    # GIVEN the tooling account's check role (its policies and boundary) and the stage's role trust,
    # WHEN it assumes the stage's role, THEN both sides allow it.
    assert _check_role_of(stages[env]) == _check_role(env)
    decision = _assume(tooling, stages[env], _tooling_check_role())
    assert decision.allowed, decision.reason


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_other_tooling_role_may_assume_it(tooling, stages, env):
    # Even a tooling role whose own policy allows sts:AssumeRole on everything is refused by the trust.
    anything = [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Resource": "*"}]}]
    other = f"arn:aws:iam::{load_pipeline_config().account}:role/mlp-cicd-delivery-synth"
    assert not _assume(tooling, stages[env], other, identity=anything).allowed


def _endpoint_arn(platform: Platform, env: str) -> str:
    return f"arn:aws:sagemaker:{platform.region}:{platform.account}:endpoint/{load_config(env).name_prefix}-endpoint"


def _api_invocations_arn(platform: Platform) -> str:
    stage = platform.stage
    api = next(stage.ref(s, lid) for s, lid, _ in stage.resources("AWS::ApiGateway::RestApi"))
    stage_name = next(stage.properties(s, r)["StageName"] for s, _, r in stage.resources("AWS::ApiGateway::Stage"))
    return f"arn:aws:execute-api:{platform.region}:{platform.account}:{api}/{stage_name}/POST/invocations"


def check_flow(platform: Platform, env: str) -> Flow:
    config = load_config(env)
    role = Principal.role(_check_role(env))
    r, a = platform.region, platform.account
    flow = Flow(f"{env}: post-deploy check").add([
        Call(role, "sagemaker:DescribePipeline", f"arn:aws:sagemaker:{r}:{a}:pipeline/{config.name_prefix}-training",
             {}, "the training pipeline exists"),
        Call(role, "cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{r}:{a}:alarm:*", {}, "alarms in ALARM"),
        Call(role, "sagemaker:DescribeEndpoint", _endpoint_arn(platform, env), {}, "is an endpoint deployed")])
    if config.endpoint.api_gateway:
        flow.add([Call(role, "execute-api:Invoke", _api_invocations_arn(platform), {}, "signed POST to the API front")])
    else:
        flow.add([Call(role, "sagemaker:InvokeEndpoint", _endpoint_arn(platform, env), {}, "invoke_endpoint")])
    return flow


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_check_role_makes_every_call_of_the_script(stages, env, tmp_path):
    flow = check_flow(stages[env], env)
    assert_authorized(stages[env], flow)
    # Every boto3 call of the script as shipped has a check (a new call without one fails here);
    # its InvokeEndpoint is made by the promotion script's invoke_csv, which it imports.
    shutil.copy(SCRIPT, tmp_path / SCRIPT.name)
    wanted = {a.lower() for s, o in boto3_calls(tmp_path) for a in iam_actions(s, o)} - {"sts:assumerole"}
    assert "from promote_model import invoke_csv" in SCRIPT.read_text()
    wanted |= {"sagemaker:invokeendpoint"}
    checked = {c.action.lower() for c in flow.checks if isinstance(c, Call)}
    if load_config(env).endpoint.api_gateway:
        wanted -= {"sagemaker:invokeendpoint"}  # the API front is the clients' path there
    assert wanted <= checked, f"calls of the script without a flow check: {sorted(wanted - checked)}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_check_role_may_change_nothing(stages, env):
    platform, role = stages[env], Principal.role(_check_role(env))
    endpoint = _endpoint_arn(platform, env)
    refused = [Request(role, "sagemaker:UpdateEndpoint", endpoint), Request(role, "sagemaker:DeleteEndpoint", endpoint),
               Request(role, "cloudwatch:SetAlarmState", f"arn:aws:cloudwatch:{platform.region}:{platform.account}:"
                       "alarm:any"),
               Request(role, "sagemaker:StartPipelineExecution", f"arn:aws:sagemaker:{platform.region}:"
                       f"{platform.account}:pipeline/{load_config(env).name_prefix}-training")]
    if load_config(env).endpoint.api_gateway:  # only through the front, as clients
        refused.append(Request(role, "sagemaker:InvokeEndpoint", endpoint))
    assert [str(r) for r in refused if platform.authorize(r).allowed] == []
