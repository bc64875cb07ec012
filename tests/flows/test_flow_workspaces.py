"""Personas and guardrails, evaluated on the synthesized templates: each persona may do its work and
nothing beyond it, and the SageMaker guardrails deny insecure jobs for every SageMaker execution role
and persona (issue 16)."""
from __future__ import annotations

import pytest
from flowcheck.calls import Call, LakeFormationPermission, pass_role, s3_read
from flowcheck.flow import Flow, assert_authorized
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


# --- feature groups (issue 16: "feature groups through the feature-store construct's grants") -------

def _feature_groups(platform):
    stage = platform.stage
    return [stage.properties(s, r) for s, _, r in stage.resources("AWS::SageMaker::FeatureGroup")]


def _offline_read(platform, principal: Principal, group) -> Flow:
    """Reading a group's offline store as Athena or Spark would: the Glue table, Lake Formation
    SELECT on it, then the Iceberg objects Feature Store wrote under the group's S3 URI."""
    store, name = group["OfflineStoreConfig"], group["FeatureGroupName"]
    catalog = store["DataCatalogConfig"]
    database, table = catalog["Database"], catalog["TableName"]
    glue = f"arn:aws:glue:{platform.region}:{platform.account}"
    objects = (f"{store['S3StorageConfig']['S3Uri']}/{platform.account}/sagemaker/{platform.region}/offline-store/"
               f"{name}-1700000000/data/part-0.parquet")
    flow = Flow(f"{principal} reads the offline store of {name}")
    flow.add(Call(principal, f"glue:{a}", arn, {}, "offline table") for a in ("GetDatabase", "GetTable")
             for arn in (f"{glue}:catalog", f"{glue}:database/{database}", f"{glue}:table/{database}/{table}"))
    flow.add([LakeFormationPermission(principal, "SELECT", database, table)])
    return flow.add(s3_read(platform, principal, objects, "offline store objects"))


def _online_read(platform, principal: Principal, group) -> Flow:
    """GetRecord on an online store encrypted with the group's key needs kms:Decrypt on it."""
    arn = _sm(platform, "feature-group", group["FeatureGroupName"])
    key = group["OnlineStoreConfig"]["SecurityConfig"]["KmsKeyId"]
    return Flow(f"{principal} reads the online store of {group['FeatureGroupName']}").add([
        Call(principal, "sagemaker:GetRecord", arn, {}, "online record"),
        Call(principal, "sagemaker:BatchGetRecord", arn, {}, "online records"),
        Call(principal, "kms:Decrypt", key, {"kms:ViaService": f"sagemaker.{platform.region}.amazonaws.com"},
             "online store key")])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_analysis_personas_read_every_offline_store(platforms, env):
    platform = platforms[env]
    groups = [g for g in _feature_groups(platform) if "OfflineStoreConfig" in g]
    assert groups, f"{env}: no feature group with an offline store"
    for purpose in (RolePurpose.PERSONA_DATA_SCIENTIST, RolePurpose.PERSONA_ML_ENGINEER):
        for group in groups:
            assert_authorized(platform, _offline_read(platform, _role(platform, purpose, env), group))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_the_ml_engineer_reads_online_stores(platforms, env):
    platform = platforms[env]
    groups = [g for g in _feature_groups(platform) if g["OnlineStoreConfig"].get("EnableOnlineStore")]
    assert groups, f"{env}: no feature group with an online store"
    for group in groups:
        assert_authorized(platform, _online_read(platform, _role(platform, RolePurpose.PERSONA_ML_ENGINEER, env),
                                                 group))
        arn = _sm(platform, "feature-group", group["FeatureGroupName"])
        for purpose in (RolePurpose.PERSONA_DATA_SCIENTIST, RolePurpose.PERSONA_LABELING_ADMIN,
                        RolePurpose.PERSONA_AUDITOR):
            assert not platform.authorize(Request(_role(platform, purpose, env), "sagemaker:GetRecord", arn))
            # nobody among the personas writes features
            assert not platform.authorize(Request(_role(platform, purpose, env), "sagemaker:PutRecord", arn))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_labeling_admin_and_auditor_read_no_feature_data(platforms, env):
    platform = platforms[env]
    for group in (g for g in _feature_groups(platform) if "OfflineStoreConfig" in g):
        uri = group["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"]
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        for purpose in (RolePurpose.PERSONA_LABELING_ADMIN, RolePurpose.PERSONA_AUDITOR):
            request = Request(_role(platform, purpose, env), "s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}/x")
            assert not platform.authorize(request)


# --- labeling administrator (where labeling is enabled: dev) ------------------------------------

def _labeling_resources(platform, type_name):
    stage = platform.stage
    return [(s, logical_id) for s, logical_id, _ in stage.resources(type_name) if s.name.endswith("-Labeling")]


def test_labeling_admin_launches_labeling_and_active_learning(platform):
    admin = _role(platform, RolePurpose.PERSONA_LABELING_ADMIN)
    machines = [platform.stage.ref(s, i) for s, i in _labeling_resources(platform, "AWS::StepFunctions::StateMachine")]
    assert len(machines) == 2, machines
    flow = Flow("labeling admin launches labeling").add(
        Call(admin, f"states:{a}", machine, {}, "labeling state machine")
        for machine in machines for a in ("StartExecution", "DescribeStateMachine", "ListExecutions"))
    assert_authorized(platform, flow)
    for purpose in (RolePurpose.PERSONA_DATA_SCIENTIST, RolePurpose.PERSONA_ML_ENGINEER, RolePurpose.PERSONA_AUDITOR):
        for machine in machines:
            assert not platform.authorize(Request(_role(platform, purpose), "states:StartExecution", machine))
    other = f"arn:aws:states:{platform.region}:{platform.account}:stateMachine:someone-elses"
    assert not platform.authorize(Request(admin, "states:StartExecution", other))


def test_labeling_admin_creates_a_job_as_the_ground_truth_role_only(platform):
    admin = _role(platform, RolePurpose.PERSONA_LABELING_ADMIN)
    ground_truth = _role(platform, RolePurpose.LABELING_GROUND_TRUTH).arn
    assert_authorized(platform, Flow("labeling admin creates a labeling job").add([
        pass_role(admin, ground_truth, "sagemaker.amazonaws.com", "the job's role")]))
    assert not platform.authorize(Request(admin, "iam:PassRole", _role(platform, RolePurpose.SAGEMAKER_TRAINING).arn,
                                          {"iam:PassedToService": "sagemaker.amazonaws.com"}))
    assert not platform.authorize(Request(admin, "iam:PassRole", ground_truth,
                                          {"iam:PassedToService": "lambda.amazonaws.com"}))


def test_labeling_admin_manages_the_workteam_and_its_members_only(platform):
    admin = _role(platform, RolePurpose.PERSONA_LABELING_ADMIN)
    stage = platform.stage
    (team_stack, team), = _labeling_resources(platform, "AWS::SageMaker::Workteam")
    (pool_stack, pool), = _labeling_resources(platform, "AWS::Cognito::UserPool")
    workteam, user_pool = stage.ref(team_stack, team), stage.arn(pool_stack, pool)
    flow = Flow("labeling admin manages the workforce").add(
        Call(admin, f"sagemaker:{a}", workteam, {}, "workteam")
        for a in ("DescribeWorkteam", "ListLabelingJobsForWorkteam"))
    flow.add(Call(admin, f"cognito-idp:{a}", user_pool, {}, "workforce members")
             for a in ("AdminCreateUser", "AdminAddUserToGroup", "AdminRemoveUserFromGroup", "AdminDisableUser",
                       "ListUsersInGroup"))
    assert_authorized(platform, flow)
    foreign_pool = f"arn:aws:cognito-idp:{platform.region}:{platform.account}:userpool/eu-west-1_other"
    assert not platform.authorize(Request(admin, "cognito-idp:AdminAddUserToGroup", foreign_pool))
    for action in ("cognito-idp:DeleteUserPool", "cognito-idp:UpdateUserPoolClient", "sagemaker:DeleteWorkteam"):
        assert not platform.authorize(Request(admin, action, user_pool if action.startswith("cognito") else workteam))
    assert not platform.authorize(Request(_role(platform, RolePurpose.PERSONA_DATA_SCIENTIST),
                                          "cognito-idp:AdminAddUserToGroup", user_pool))


@pytest.mark.parametrize("env", [e for e in ENVIRONMENTS if not load_config(e).labeling.enabled])
def test_without_labeling_the_admin_launches_nothing(platforms, env):
    platform = platforms[env]
    admin = _role(platform, RolePurpose.PERSONA_LABELING_ADMIN, env)
    prefix = load_config(env).name_prefix
    assert not platform.authorize(Request(admin, "sagemaker:CreateLabelingJob", _sm(platform, "labeling-job",
                                                                                   f"{prefix}-l1")))
    assert platform.authorize(Request(admin, "sagemaker:DescribeLabelingJob", _sm(platform, "labeling-job",
                                                                                 f"{prefix}-l1")))
