"""Personas and guardrails, evaluated on the synthesized templates: each persona may do its work and
nothing beyond it, and the SageMaker guardrails deny insecure jobs for every SageMaker execution role
and persona (issue 16)."""
from __future__ import annotations

import pytest
from flowcheck.policy import Principal, Request
from flowcheck.sagemaker import pipeline_of, request_keys, steps

from ml_platform.config import ENVIRONMENTS, load_config
from ml_platform.constants import RolePurpose

ENV = "dev"


@pytest.fixture(scope="module")
def platform(platforms):
    return platforms[ENV]


def _role(platform, purpose: RolePurpose, env: str = ENV) -> Principal:
    return Principal.role(f"arn:aws:iam::{platform.account}:role/{load_config(env).name_prefix}-{purpose}")


def _sm(platform, kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{platform.region}:{platform.account}:{kind}/{name}"


def _tuning_definition(platform) -> dict:
    _, definition = pipeline_of(platform)
    return next(s for s in steps(definition) if s["Type"] == "Tuning")["Arguments"]["TrainingJobDefinition"]


def _training_request(platform, principal: Principal, **overrides) -> Request:
    """A CreateTrainingJob as the persona would send it, its condition keys those of the pipeline's
    own (secure) trial definition, then `overrides` (None removes a key)."""
    keys = request_keys("Training", _tuning_definition(platform))
    for key, value in overrides.items():
        name = f"sagemaker:{key}"
        if value is None:
            keys.pop(name, None)
        else:
            keys[name] = value
    prefix = load_config(ENV).name_prefix
    return Request(principal, "sagemaker:CreateTrainingJob", _sm(platform, "training-job", f"{prefix}-experiment-1"), keys)


def test_a_data_scientist_may_train_inside_the_guardrails_and_not_outside(platform):
    scientist = _role(platform, RolePurpose.PERSONA_DATA_SCIENTIST)
    # GIVEN the platform's own secure settings: allowed
    assert platform.authorize(_training_request(platform, scientist))
    # WHEN one protection is missing or off: denied, whatever the identity policy allows
    assert not platform.authorize(_training_request(platform, scientist, VolumeKmsKey=None))
    assert not platform.authorize(_training_request(platform, scientist, VpcSubnets=None))
    assert not platform.authorize(_training_request(platform, scientist, VpcSubnets=["subnet-0outside00000000"]))
    assert not platform.authorize(_training_request(platform, scientist, NetworkIsolation="false"))
    assert not platform.authorize(_training_request(platform, scientist, NetworkIsolation=None))
    assert not platform.authorize(_training_request(platform, scientist, InterContainerTrafficEncryption="false"))


def test_the_pipeline_role_is_held_to_the_same_guardrails(platform):
    pipeline_role, _ = pipeline_of(platform)
    definition = _tuning_definition(platform)
    keys = request_keys("Tuning", {"TrainingJobDefinition": definition})
    tuning = _sm(platform, "hyper-parameter-tuning-job", "pipelines-abc")
    assert platform.authorize(Request(pipeline_role, "sagemaker:CreateHyperParameterTuningJob", tuning, keys))
    without_key = {k: v for k, v in keys.items() if k != "sagemaker:VolumeKmsKey"}
    assert not platform.authorize(Request(pipeline_role, "sagemaker:CreateHyperParameterTuningJob", tuning, without_key))


@pytest.mark.parametrize("purpose, allowed", [
    (RolePurpose.PERSONA_ML_ENGINEER, True),
    (RolePurpose.PERSONA_DATA_SCIENTIST, False),
    (RolePurpose.PERSONA_LABELING_ADMIN, False),
    (RolePurpose.PERSONA_AUDITOR, False),
])
def test_only_the_ml_engineer_may_approve_a_model_package(platform, purpose, allowed):
    package = _sm(platform, "model-package", f"{load_config(ENV).name_prefix}-models/3")
    request = Request(_role(platform, purpose), "sagemaker:UpdateModelPackage", package,
                      {"sagemaker:ModelApprovalStatus": "Approved"})
    assert bool(platform.authorize(request)) is allowed


def test_the_auditor_reads_and_changes_nothing(platform):
    auditor = _role(platform, RolePurpose.PERSONA_AUDITOR)
    prefix = load_config(ENV).name_prefix
    assert platform.authorize(Request(auditor, "sagemaker:DescribeModelPackage", _sm(platform, "model-package", f"{prefix}-models/1")))
    assert platform.authorize(Request(auditor, "iam:GetRole", f"arn:aws:iam::{platform.account}:role/{prefix}-glue-etl"))
    for action in ("sagemaker:CreateTrainingJob", "sagemaker:DeleteEndpoint", "sagemaker:StartPipelineExecution"):
        assert not platform.authorize(Request(auditor, action, _sm(platform, "training-job", f"{prefix}-x")))


def test_analysis_personas_start_the_training_pipeline_and_the_others_do_not(platform):
    prefix = load_config(ENV).name_prefix
    pipeline = _sm(platform, "pipeline", f"{prefix}-training")
    for purpose, allowed in ((RolePurpose.PERSONA_DATA_SCIENTIST, True), (RolePurpose.PERSONA_ML_ENGINEER, True),
                             (RolePurpose.PERSONA_LABELING_ADMIN, False), (RolePurpose.PERSONA_AUDITOR, False)):
        assert bool(platform.authorize(Request(_role(platform, purpose), "sagemaker:StartPipelineExecution",
                                               pipeline))) is allowed


def test_labeling_admin_runs_labeling_jobs_only(platform):
    admin = _role(platform, RolePurpose.PERSONA_LABELING_ADMIN)
    prefix = load_config(ENV).name_prefix
    keys = {"sagemaker:VolumeKmsKey": "arn:aws:kms:eu-west-1:111111111111:key/any"}
    assert platform.authorize(Request(admin, "sagemaker:CreateLabelingJob", _sm(platform, "labeling-job", f"{prefix}-l1"), keys))
    assert not platform.authorize(Request(admin, "sagemaker:CreateLabelingJob", _sm(platform, "labeling-job", f"{prefix}-l1")))
    assert not platform.authorize(_training_request(platform, admin))


def test_no_role_may_pass_a_role_to_another_service_or_pass_a_foreign_role(platform):
    scientist = _role(platform, RolePurpose.PERSONA_DATA_SCIENTIST)
    training_role = _role(platform, RolePurpose.SAGEMAKER_TRAINING).arn
    assert platform.authorize(Request(scientist, "iam:PassRole", training_role, {"iam:PassedToService": "sagemaker.amazonaws.com"}))
    assert not platform.authorize(Request(scientist, "iam:PassRole", training_role, {"iam:PassedToService": "lambda.amazonaws.com"}))
    assert not platform.authorize(Request(scientist, "iam:PassRole", f"arn:aws:iam::{platform.account}:role/admin",
                                          {"iam:PassedToService": "sagemaker.amazonaws.com"}))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_platform_role_can_administer_identities(platforms, env):
    platform = platforms[env]
    deployer = _role(platform, RolePurpose.ENDPOINT_DEPLOYER, env) if load_config(env).endpoint.mode != "none" else None
    for principal in filter(None, (deployer, _role(platform, RolePurpose.PERSONA_ML_ENGINEER, env))):
        for action in ("iam:CreateRole", "iam:AttachRolePolicy", "iam:DeleteRolePermissionsBoundary"):
            assert not platform.authorize(Request(principal, action, f"arn:aws:iam::{platform.account}:role/x"))
