"""Fixtures that build the CDK app in memory, once per test session."""
from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from ml_platform.config import ENVIRONMENTS, load_config
from ml_platform.stages.platform_stage import MlPlatformStage

# The same feature flags the CLI passes from cdk.json.
CDK_CONTEXT = {
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
}


def build_stage(environment: str) -> MlPlatformStage:
    app = cdk.App(context=CDK_CONTEXT)
    return MlPlatformStage(app, environment.capitalize(), config=load_config(environment))


@pytest.fixture(scope="session")
def stages() -> dict[str, MlPlatformStage]:
    return {env: build_stage(env) for env in ENVIRONMENTS}


@pytest.fixture(scope="session")
def dev_stage(stages) -> MlPlatformStage:
    return stages["dev"]


@pytest.fixture(scope="session")
def prod_stage(stages) -> MlPlatformStage:
    return stages["prod"]


_templates: dict[str, Template] = {}


def _template_of(stack: cdk.Stack) -> Template:
    if stack.node.path not in _templates:
        _templates[stack.node.path] = Template.from_stack(stack)
    return _templates[stack.node.path]


@pytest.fixture(scope="session")
def template_of():
    """`template_of(stack)`: the stack's template, synthesized once per session (stages are shared)."""
    return _template_of
