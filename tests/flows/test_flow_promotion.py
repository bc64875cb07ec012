"""The delivery pipeline's model promotion, across the two accounts (issue 16 item 4).

After the manual approval, the pipeline's promote CodeBuild role (tooling account, `<pipeline
prefix>-delivery-promote-model`) assumes the environment's model-promotion role
(`constructs/serving/model_promotion.py`), invokes the endpoint deployer and describes and smoke-tests
the one endpoint. Evaluated on the pipeline-mode assembly: the tooling account's roles from the
`Pipeline` template, the environment's from its nested stage, together (a cross-account request
needs the caller's identity policy and the promotion role's trust policy both)."""
from __future__ import annotations

import dataclasses

import pytest
from flowcheck.build import load_platform
from flowcheck.calls import Call
from flowcheck.flow import Flow, assert_authorized
from flowcheck.lambdas import functions
from flowcheck.policy import Principal, Request

from ml_platform.config import ENVIRONMENTS, load_config, load_pipeline_config
from ml_platform.constants import RolePurpose


@pytest.fixture(scope="module")
def tooling(pipeline_out):
    config = load_pipeline_config()
    return load_platform(pipeline_out, account=config.account, region=config.region), config


def _promoted(pipeline_out, tooling_platform, env):
    """The environment's platform with the tooling account's roles beside its own."""
    config = load_config(env)
    assembly = pipeline_out / f"assembly-Pipeline-{env.capitalize()}"
    platform = load_platform(assembly, account=config.account, region=config.region)
    merged = dataclasses.replace(platform, roles={**platform.roles, **tooling_platform.roles})
    return merged, assembly, config


def _promotion_role(config) -> str:
    return f"arn:aws:iam::{config.account}:role/{config.name_prefix}-{RolePurpose.MODEL_PROMOTION}"


def _promoted_environments(pipeline_out, tooling_platform):
    found = []
    for env in ENVIRONMENTS:
        platform, assembly, config = _promoted(pipeline_out, tooling_platform, env)
        if _promotion_role(config) in platform.roles and _promotion_role(config) not in tooling_platform.roles:
            found.append((env, platform, assembly, config))
    return found


def test_only_the_last_environment_is_promoted(pipeline_out, tooling):
    promoted = [env for env, *_ in _promoted_environments(pipeline_out, tooling[0])]
    assert promoted == [ENVIRONMENTS[-1]] == ["prod"]


def test_the_promote_step_deploys_and_smoke_tests_the_model(pipeline_out, tooling):
    tooling_platform, pipeline = tooling
    promoter = Principal.role(f"arn:aws:iam::{pipeline.account}:role/{pipeline.name_prefix}-"
                              f"{RolePurpose.DELIVERY_PROMOTE}")
    for env, platform, assembly, config in _promoted_environments(pipeline_out, tooling_platform):
        role = Principal.role(_promotion_role(config))
        deployer = functions(platform, assembly)["endpoint_deployer"]
        endpoint = f"arn:aws:sagemaker:{config.region}:{config.account}:endpoint/{config.name_prefix}-endpoint"
        flow = Flow(f"{env}: promote the approved model").add([
            Call(promoter, "sts:AssumeRole", role.arn, {}, "the promote step assumes the promotion role"),
            Call(role, "lambda:InvokeFunction", deployer.arn, {}, "deploy-latest"),
            Call(role, "sagemaker:DescribeEndpoint", endpoint, {}, "wait for InService"),
            Call(role, "sagemaker:InvokeEndpoint", endpoint, {}, "smoke test")])
        assert_authorized(platform, flow)


def test_promotion_is_refused_to_other_roles_and_beyond_its_endpoint(pipeline_out, tooling):
    tooling_platform, pipeline = tooling
    synth = f"arn:aws:iam::{pipeline.account}:role/{pipeline.name_prefix}-delivery-synth"
    assert synth in tooling_platform.roles
    for env, platform, _, config in _promoted_environments(pipeline_out, tooling_platform):
        role = Principal.role(_promotion_role(config))
        # another tooling role (the synth step) may not assume it
        assert not platform.authorize(Request(Principal.role(synth), "sts:AssumeRole", role.arn))
        base = f"arn:aws:sagemaker:{config.region}:{config.account}"
        endpoint = f"{base}:endpoint/{config.name_prefix}-endpoint"
        for action, resource in (("sagemaker:UpdateEndpoint", endpoint), ("sagemaker:DeleteEndpoint", endpoint),
                                 ("sagemaker:InvokeEndpoint", f"{base}:endpoint/another-endpoint"),
                                 ("sagemaker:UpdateModelPackage", f"{base}:model-package/{config.name_prefix}-models/1"),
                                 ("lambda:InvokeFunction",
                                  f"arn:aws:lambda:{config.region}:{config.account}:function:another")):
            assert not platform.authorize(Request(role, action, resource)), f"{env}: {action} {resource}"
