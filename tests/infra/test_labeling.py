"""Labeling stack: opt-in per environment, Cognito and workforce settings, functions, state machines."""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Match, Template

from ml_platform.config import ConfigError, load_config
from ml_platform.config_sections.labeling import LabelingConfig
from ml_platform.constants import KeyDomain
from ml_platform.stages.platform_stage import MlPlatformStage

CDK_CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
WORKTEAM = "arn:aws:sagemaker:eu-west-1:111111111111:workteam/private-crowd/existing-team"


def _stage(env: str = "dev", **labeling: object) -> MlPlatformStage:
    config = load_config(env)
    section = LabelingConfig.model_validate({"enabled": True, **labeling})
    return MlPlatformStage(cdk.App(context=CDK_CONTEXT), env.capitalize(),
                           config=config.model_copy(update={"labeling": section}))


@pytest.fixture(scope="module")
def labeling_stage() -> MlPlatformStage:
    """`labeling: {enabled: true}` and nothing else, on dev."""
    return _stage()


@pytest.fixture(scope="module")
def labeling(labeling_stage) -> Template:
    return Template.from_stack(labeling_stage.labeling)


@pytest.fixture(scope="module")
def existing() -> Template:
    return Template.from_stack(_stage(existing_workforce_name="mlp-shared", existing_workteam_arn=WORKTEAM).labeling)


def _definition(template: Template, comment_start: str) -> str:
    """A state machine's definition as text, with the CloudFormation intrinsics flattened."""
    for resource in template.find_resources("AWS::StepFunctions::StateMachine").values():
        parts = resource["Properties"]["DefinitionString"]["Fn::Join"][1]
        text = "".join(p if isinstance(p, str) else "<ref>" for p in parts)
        if json.loads(text.replace('"<ref>"', '"x"').replace("<ref>", "x"))["Comment"].startswith(comment_start):
            return text
    raise AssertionError(f"no state machine commented {comment_start!r}")


def _states(template: Template, comment_start: str) -> dict:
    return json.loads(_definition(template, comment_start).replace("<ref>", "x"))


def _all_states(machine: dict) -> dict:
    found = dict(machine["States"])
    for state in machine["States"].values():
        for nested in [state.get("ItemProcessor") or state.get("Iterator")] + state.get("Branches", []):
            if nested:
                found |= _all_states(nested)
    return found


def _create_job_states(template: Template) -> dict[str, dict]:
    """The launcher's states that create a labeling job, by name."""
    states = _all_states(_states(template, "Runs one Ground Truth"))
    return {n: s for n, s in states.items() if s.get("Resource", "").endswith("sagemaker:createLabelingJob")}


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_labeling_is_off_unless_config_turns_it_on(stages, env):
    assert load_config(env).labeling.enabled is False and stages[env].labeling is None


def test_dev_turns_it_on_with_enabled_alone(stages):
    assert load_config("dev").labeling == LabelingConfig(enabled=True) and stages["dev"].labeling is not None


def test_enabled_alone_is_a_complete_setup(labeling):
    # GIVEN only `enabled: true`: THEN pool, workforce, workteam, both task functions and two machines exist
    for cfn_type, count in (("AWS::Cognito::UserPool", 1), ("AWS::SageMaker::Workforce", 1),
                            ("AWS::SageMaker::Workteam", 1), ("AWS::StepFunctions::StateMachine", 2)):
        labeling.resource_count_is(cfn_type, count)
    labeling.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "labelers"})


def test_user_pool_requires_mfa_strong_passwords_and_threat_protection(labeling):
    labeling.has_resource_properties("AWS::Cognito::UserPool", {
        "MfaConfiguration": "ON", "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
        "UserPoolTier": "PLUS", "UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"},
        "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireLowercase": True, "RequireUppercase": True,
                                        "RequireNumbers": True, "RequireSymbols": True,
                                        "TemporaryPasswordValidityDays": 1}}})
    labeling.resource_count_is("AWS::Cognito::UserPoolDomain", 1)


def test_app_client_is_what_ground_truth_requires(labeling):
    labeling.has_resource_properties("AWS::Cognito::UserPoolClient", {
        "GenerateSecret": True, "AllowedOAuthFlowsUserPoolClient": True, "SupportedIdentityProviders": ["COGNITO"]})
    client = next(iter(labeling.find_resources("AWS::Cognito::UserPoolClient").values()))["Properties"]
    assert sorted(client["AllowedOAuthFlows"]) == ["code", "implicit"]
    assert sorted(client["AllowedOAuthScopes"]) == ["email", "openid", "profile"]


def test_later_deploys_put_the_portal_urls_back_with_the_same_client_settings(labeling_stage, labeling, joined_json,
                                                                              reference):
    # GIVEN the client as the template declares it
    client = next(iter(labeling.find_resources("AWS::Cognito::UserPoolClient").values()))["Properties"]
    restore = next(iter(labeling.find_resources("Custom::AWS").values()))["Properties"]
    call = joined_json(restore["Update"])
    params = call["parameters"]
    # THEN the restore call updates that client of that pool with every setting the client has,
    # and the portal URLs from the workforce's subdomain
    stack, workforce = labeling_stage.labeling, labeling_stage.labeling.workforce
    assert call["action"] == "updateUserPoolClient"
    assert params["UserPoolId"] == reference(stack, workforce.user_pool, None)
    assert params["ClientId"] == reference(stack, workforce.client, None)
    for key in ("AllowedOAuthFlows", "AllowedOAuthScopes", "SupportedIdentityProviders", "ExplicitAuthFlows",
                "AllowedOAuthFlowsUserPoolClient", "PreventUserExistenceErrors"):
        assert sorted(params[key]) == sorted(client[key]) if isinstance(client[key], list) else params[key] == client[key]
    portal = reference(stack, workforce.workforce, "SubDomain")
    assert params["CallbackURLs"] == [{"Fn::Join": ["", ["https://", portal, "/oauth2/idpresponse"]]}]
    assert params["LogoutURLs"] == [{"Fn::Join": ["", ["https://", portal, "/logout"]]}]
    assert restore["Create"] == restore["Update"]


def test_workforce_and_workteam_use_the_pool_and_groups_with_encrypted_notices(labeling):
    labeling.has_resource_properties("AWS::SageMaker::Workforce", {"CognitoConfig": {
        "ClientId": Match.any_value(), "UserPool": Match.any_value()}})
    labeling.has_resource_properties("AWS::SageMaker::Workteam", {
        "MemberDefinitions": [{"CognitoMemberDefinition": {"CognitoUserGroup": "labelers",
                                                           "CognitoClientId": Match.any_value(),
                                                           "CognitoUserPool": Match.any_value()}}],
        "NotificationConfiguration": {"NotificationTopicArn": Match.any_value()}})
    labeling.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


def test_existing_workforce_and_workteam_are_used_not_created(existing):
    for cfn_type in ("AWS::Cognito::UserPool", "AWS::SageMaker::Workforce", "AWS::SageMaker::Workteam"):
        existing.resource_count_is(cfn_type, 0)
    creates = _create_job_states(existing)
    assert creates and all(s["Parameters"]["HumanTaskConfig"]["WorkteamArn"] == WORKTEAM for s in creates.values())


def test_task_functions_run_in_the_vpc_and_ground_truth_may_invoke_them(labeling):
    functions = labeling.find_resources("AWS::Lambda::Function", {"Properties": {
        "VpcConfig": {"SubnetIds": Match.any_value(), "SecurityGroupIds": Match.any_value()},
        "TracingConfig": {"Mode": "Active"}}})
    assert len([f for f in functions.values() if f["Properties"]["Description"].startswith("Ground Truth")]) == 2
    labeling.has_resource_properties("AWS::IAM::ManagedPolicy", {
        "Description": "Least-privilege grants of mlp-dev-labeling-ground-truth",
        "PolicyDocument": {"Statement": Match.array_with([
            Match.object_like({"Action": "lambda:InvokeFunction", "Effect": "Allow"})])}})
    labeling.has_resource_properties("AWS::IAM::Role", {"RoleName": "mlp-dev-labeling-ground-truth",
        "AssumeRolePolicyDocument": {"Statement": [Match.object_like({
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}}})]}})


def test_launcher_writes_kms_output_refuses_small_automated_jobs_and_waits(labeling):
    states = _all_states(_states(labeling, "Runs one Ground Truth"))
    creates = _create_job_states(labeling)
    assert len(creates) == 7  # custom + 3 built-in task types with and without automated labeling
    for state in creates.values():
        output = state["Parameters"]["OutputConfig"]
        assert output["S3OutputPath"] == "s3://mlp-dev-curated-111111111111-eu-west-1/labeled/jobs"
        assert output["KmsKeyId"]
    auto = creates["CreateTextClassificationAutomatedJob"]["Parameters"]["LabelingJobAlgorithmsConfig"]
    assert auto["LabelingJobAlgorithmSpecificationArn"].endswith(
        ":027400017018:labeling-job-algorithm-specification/text-classification")
    assert auto["LabelingJobResourceConfig"]["VpcConfig"]["Subnets"] and auto["LabelingJobResourceConfig"]["VolumeKmsKeyId"]
    assert "1,250 objects" in states["TooFewObjectsForAutomatedLabeling"]["Cause"]
    choice = states["TextClassificationAutomated?"]["Choices"][0]
    assert {"Variable": "$.validation.objectCount", "NumericLessThan": 1250} in choice["And"]
    assert states["JobFinished?"]["Default"] == "WaitForJob"
    assert states["ExportLabels"]["Next"] == "Labeled"


def test_launcher_validates_its_input_before_writing_anything(labeling):
    # GIVEN the launcher's definition, THEN the merged input goes to the steps function's check
    # first, and its refusal ends the run with the check's message as the cause.
    states = _all_states(_states(labeling, "Runs one Ground Truth"))
    assert states["MergeInput"]["Next"] == "ValidateInput"
    validate = states["ValidateInput"]
    assert validate["Parameters"] == {  # the payload itself (payload_response_only)
        "action": "validate", "request.$": "$", "jobNamePrefix": "mlp-dev",
        "inputPrefix": "s3://mlp-dev-raw-111111111111-eu-west-1/labeling/"}
    assert validate["ResultPath"] == "$.validation" and validate["Next"] == "CategoryLabels"
    (catch,) = validate["Catch"]
    assert catch["ErrorEquals"] == ["InvalidLabelingRequest"] and catch["Next"] == "InvalidInput"
    assert states["InvalidInput"] == {"Type": "Fail", "Error": "InvalidInput", "CausePath": "$.refusal.Cause"}


def test_labeled_rows_are_a_table_of_the_curated_database(labeling):
    # GIVEN labeling on, THEN the exported rows are the curated database's labeled_events table:
    # JSON lines at the export's location, the event schema's columns plus the label columns.
    table = labeling.find_resources("AWS::Glue::Table")
    ((_, resource),) = table.items()
    props = resource["Properties"]
    assert props["DatabaseName"] == "mlp_dev_curated"
    descriptor = props["TableInput"]["StorageDescriptor"]
    assert descriptor["Location"] == "s3://mlp-dev-curated-111111111111-eu-west-1/labeled/tables/labeled_events/"
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    columns = {c["Name"]: c["Type"] for c in descriptor["Columns"]}
    assert columns["event_id"] == "string" and columns["amount"] == "double" and columns["event_time"] == "string"
    assert {k: columns[k] for k in ("label", "label_confidence", "labeling_job")} == {
        "label": "string", "label_confidence": "double", "labeling_job": "string"}


def test_runs_report_to_the_alert_topic(labeling):
    labeling.resource_count_is("AWS::Events::Rule", 2)
    labeling.has_resource_properties("AWS::Events::Rule", {"EventPattern": {
        "source": ["aws.states"], "detail": {"status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
                                             "stateMachineArn": Match.any_value()}}})


def test_active_learning_machine_composes_training_transform_and_labeling_jobs(labeling):
    states = _all_states(_states(labeling, "Active learning"))
    # the partition is a token in CDK's own integrations: compare what follows it
    resources = {"states:::" + s["Resource"].split("states:::", 1)[1] for s in states.values()
                 if "states:::" in s.get("Resource", "")}
    assert {"states:::sagemaker:createTrainingJob.sync", "states:::sagemaker:createTransformJob.sync",
            "states:::sagemaker:createModel", "states:::states:startExecution.sync:2"} <= resources
    train = states["Train"]["Parameters"]
    assert train["ResourceConfig"]["VolumeKmsKeyId"] and train["VpcConfig"]["Subnets"]
    assert train["AlgorithmSpecification"]["TrainingImage"].startswith("141502667606.dkr.ecr.eu-west-1")
    held_out = states["LabelHeldOut"]["Parameters"]["Input"]
    assert held_out["workersPerObject"] == 5 and states["LabelUncertain"]["Parameters"]["Input"]["workersPerObject"] == 3
    assert states["Finished?"]["Default"] == "NextRound" and states["NextRound"]["Next"] == "Prepare"


def test_lake_key_admits_labeling_roles_only_when_enabled(stages, labeling_stage, key_users):
    enabled = key_users(labeling_stage, KeyDomain.LAKE)
    assert {f"arn:aws:iam::111111111111:role/mlp-dev-labeling-{role}" for role in ("ground-truth", "launcher")} \
        <= set(enabled)
    # prod has labeling off: no key of it admits a labeling role (the workspaces' labeling-admin persona,
    # mlp-prod-persona-labeling-admin, is a key user of its own; the labeling stack's roles are not)
    prod = load_config("prod")
    users = [user for domain in KeyDomain for user in key_users(stages["prod"], domain)]
    assert users and not [u for u in users if u.startswith(f"arn:aws:iam::{prod.account}:role/mlp-prod-labeling-")]


def test_bad_labeling_config_names_file_field_and_reason(tmp_path):
    raw = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "dev.yaml").read_text())
    raw["labeling"] = {"enabled": True, "existing_workteam_arn": WORKTEAM,
                       "active_learning": {"target_accuracy": 1.2}}
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as error:
        load_config("dev", tmp_path)
    message = str(error.value)
    assert str(tmp_path / "dev.yaml") in message
    assert "labeling.active_learning.target_accuracy" in message
    raw["labeling"] = {"enabled": True, "existing_workteam_arn": WORKTEAM}
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="labeling: .*set existing_workforce_name too"):
        load_config("dev", tmp_path)
