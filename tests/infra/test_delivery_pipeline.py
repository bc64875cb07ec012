"""Delivery pipeline: source, synth, dev -> staging -> approval -> prod, encryption, config, the gate."""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from ml_platform.config import ENVIRONMENTS, load_config, load_pipeline_config
from ml_platform.constructs.delivery.deploy_steps import BUILD_REPORTS_DIR, CHECK_STEP_ID, SYNTH_OUTPUT_DIR
from ml_platform.stacks.delivery_pipeline_stack import DeliveryPipelineStack

REPO = Path(__file__).resolve().parents[2]
CDK_CONTEXT = json.loads((REPO / "cdk.json").read_text())["context"]


@pytest.fixture(scope="module")
def pipeline_stack() -> DeliveryPipelineStack:
    config = load_pipeline_config()
    app = cdk.App(context=CDK_CONTEXT)
    return DeliveryPipelineStack(
        app, "Pipeline", config=config, environments=[load_config(env) for env in ENVIRONMENTS],
        cli_version="2.1148.1", availability_zones=[f"{config.region}a"],
        env=cdk.Environment(account=config.account, region=config.region))


@pytest.fixture(scope="module")
def template(pipeline_stack) -> Template:
    return Template.from_stack(pipeline_stack)


@pytest.fixture(scope="module")
def stages(template) -> list[dict]:
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]["Stages"]


def _stage(stages: list[dict], name: str) -> dict:
    return next(s for s in stages if s["Name"] == name)


def test_source_is_the_configured_connection_repository_and_branch(stages):
    config = load_pipeline_config()
    (action,) = _stage(stages, "Source")["Actions"]
    assert action["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert action["Configuration"] == {"ConnectionArn": config.connection_arn,
                                       "FullRepositoryId": config.repository, "BranchName": config.branch}


def test_synth_step_runs_make_synth_without_docker(template, stages):
    (action,) = _stage(stages, "Build")["Actions"]
    project_id = action["Configuration"]["ProjectName"]["Ref"]
    project = template.find_resources("AWS::CodeBuild::Project")[project_id]["Properties"]
    spec = json.loads(project["Source"]["BuildSpec"])
    commands = spec["phases"]["build"]["commands"]
    # The tests, then the synth with every gate; then the reports are collected.
    test = next(i for i, c in enumerate(commands) if c.startswith("make test"))
    assert f"--junitxml={BUILD_REPORTS_DIR}/tests.xml" in commands[test]
    assert commands.index("make synth") > test
    assert "install" not in spec["phases"]  # the Makefile sets up the venv and the pinned CDK CLI
    outputs = spec["artifacts"]["secondary-artifacts"]
    assert {o["base-directory"] for o in outputs.values()} == {SYNTH_OUTPUT_DIR, BUILD_REPORTS_DIR}
    assert project["Environment"]["PrivilegedMode"] is False


def test_synth_step_keeps_reports_and_lint_output_as_artifacts(template, stages):
    (action,) = _stage(stages, "Build")["Actions"]
    assert len(action["OutputArtifacts"]) == 2  # the assembly and the build reports
    project = template.find_resources("AWS::CodeBuild::Project")[action["Configuration"]["ProjectName"]["Ref"]]
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    collected = " ".join(spec["phases"]["build"]["commands"])
    for assembly in ("cdk.out", SYNTH_OUTPUT_DIR):
        assert f"{assembly}/security-report-*.md" in collected and f"{assembly}/cfn-lint.txt" in collected
    # pytest's JUnit file becomes a CodeBuild test report (report group named after the project).
    assert spec["reports"]["tests"] == {"files": ["tests.xml"], "base-directory": BUILD_REPORTS_DIR,
                                        "file-format": "JUNITXML"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_stage_ends_with_its_post_deploy_check(template, stages, env):
    # GIVEN the stage's actions, THEN the check runs after every deploy action (and after the promotion).
    actions = _stage(stages, env.capitalize())["Actions"]
    (check,) = [a for a in actions if a["Name"] == CHECK_STEP_ID]
    assert all(a["RunOrder"] < check["RunOrder"] for a in actions if a is not check)
    project = template.find_resources("AWS::CodeBuild::Project")[check["Configuration"]["ProjectName"]["Ref"]]
    (command,) = json.loads(project["Properties"]["Source"]["BuildSpec"])["phases"]["build"]["commands"]
    config = load_config(env)
    assert command.startswith('python3 scripts/post_deploy_check.py --role-arn "$CHECK_ROLE_ARN"')
    assert f"--pipeline-name {config.name_prefix}-training" in command
    assert f"--alert-topic-arn arn:aws:sns:{config.region}:{config.account}:{config.name_prefix}-alerts" in command
    assert f"--endpoint-name {config.name_prefix}-endpoint" in command
    variables = {v["name"] for v in json.loads(check["Configuration"]["EnvironmentVariables"])}
    # Through the API front where there is one (the path clients use), else InvokeEndpoint.
    assert ('--api-url "$API_URL"' in command) is config.endpoint.api_gateway
    assert variables == ({"CHECK_ROLE_ARN", "API_URL"} if config.endpoint.api_gateway else {"CHECK_ROLE_ARN"})


def test_check_role_may_only_assume_the_stages_check_roles(template):
    (role_id,) = template.find_resources("AWS::IAM::Role", {"Properties": {
        "RoleName": "mlp-cicd-delivery-post-deploy-check"}})
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy", {"Properties": {
        "Roles": [{"Ref": role_id}]}}).values()
    assumed = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert sorted(s["Resource"] for s in assumed) == sorted(
        f"arn:aws:iam::{load_config(e).account}:role/{load_config(e).name_prefix}-post-deploy-check"
        for e in ENVIRONMENTS)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stage_check_role_trusts_only_the_pipelines_check_role(pipeline_stack, env):
    stage = next(s for s in pipeline_stack.stages if s.config.environment == env)
    stack = stage.serving or stage.training
    role = Template.from_stack(stack).find_resources("AWS::IAM::Role", {"Properties": {
        "RoleName": f"{stage.config.name_prefix}-post-deploy-check"}})
    (trust,) = [r["Properties"]["AssumeRolePolicyDocument"]["Statement"] for r in role.values()]
    (statement,) = trust
    assert statement["Action"] == "sts:AssumeRole" and statement["Effect"] == "Allow"
    assert statement["Condition"] == {"ArnEquals": {
        "aws:PrincipalArn": "arn:aws:iam::444444444444:role/mlp-cicd-delivery-post-deploy-check"}}
    assert statement["Principal"] == {"AWS": "arn:aws:iam::444444444444:root"}
