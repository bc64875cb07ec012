"""Off-hours scaling: config validation (file, field, reason), the scheduled actions of each mode, and
where they go (the stack's scalable target when it owns the endpoint, the deployer's document otherwise)."""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk.assertions import Match, Template

from ml_platform.config import CONFIG_DIR, ConfigError, load_config
from ml_platform.config_sections.serving_schedule import OffHoursScaling, aas_cron
from ml_platform.constructs.serving.endpoint_spec import EndpointSpec
from ml_platform.stages.platform_stage import MlPlatformStage

CDK_CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
PACKAGE = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlp-stg-models/1"
OFF_HOURS = {"time_zone": "Europe/Dublin", "working_hours_start": "cron(0 7 ? * MON-FRI *)",
             "working_hours_stop": "cron(0 20 ? * MON-FRI *)", "min_instances": 1}


def _write(tmp_path: Path, environment: str, **endpoint) -> Path:
    data = yaml.safe_load((CONFIG_DIR / f"{environment}.yaml").read_text())
    data["endpoint"].update(endpoint)
    (tmp_path / f"{environment}.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


BAD = [
    ("real-time to zero", "staging", {"off_hours": {**OFF_HOURS, "min_instances": 0}},
     "endpoint", "off_hours.min_instances: a real-time endpoint cannot go below one instance"),
    ("serverless has no instances", "dev", {"off_hours": OFF_HOURS},
     "endpoint", "off_hours: a serverless endpoint has no instances to scale"),
    ("prod serves around the clock", "prod", {"off_hours": OFF_HOURS},
     "<root>", "endpoint.off_hours: prod serves clients around the clock"),
    ("unknown time zone", "staging", {"off_hours": {**OFF_HOURS, "time_zone": "Europe/Dublinn"}},
     "endpoint.off_hours.time_zone", "not an IANA time zone name"),
    ("five-field cron", "staging", {"off_hours": {**OFF_HOURS, "working_hours_stop": "cron(0 20 ? * MON-FRI)"}},
     "endpoint.off_hours.working_hours_stop", "has 6 fields"),
    ("rate instead of cron", "staging", {"off_hours": {**OFF_HOURS, "working_hours_start": "rate(12 hours)"}},
     "endpoint.off_hours.working_hours_start", "must be cron("),
    ("hour out of range", "staging", {"off_hours": {**OFF_HOURS, "working_hours_start": "cron(0 25 ? * MON-FRI *)"}},
     "endpoint.off_hours.working_hours_start", "hours field '25': '25' is not in 0-23"),
    ("both day fields set", "staging", {"off_hours": {**OFF_HOURS, "working_hours_start": "cron(0 7 * * MON-FRI *)"}},
     "endpoint.off_hours.working_hours_start", "exactly one of day-of-month and day-of-week must be '?'"),
    ("same start and stop", "staging",
     {"off_hours": {**OFF_HOURS, "working_hours_stop": OFF_HOURS["working_hours_start"]}},
     "endpoint.off_hours", "the same schedule"),
    ("off-hours floor above working floor", "staging", {"off_hours": {**OFF_HOURS, "min_instances": 2}},
     "endpoint", "off hours would keep more instances than working hours"),
    ("ceiling above the endpoint's", "staging", {"off_hours": {**OFF_HOURS, "max_instances": 3}},
     "endpoint", "off_hours.max_instances: 3 is above endpoint.max_instances (2)"),
    ("async ceiling zero", "staging", {"mode": "async", "api_gateway": False,
                                       "off_hours": {**OFF_HOURS, "min_instances": 0, "max_instances": 0}},
     "endpoint", "0 would leave queued async requests without an instance"),
    ("unknown key", "staging", {"off_hours": {**OFF_HOURS, "timezone": "UTC"}},
     "endpoint.off_hours.timezone", "unknown key"),
]


@pytest.mark.parametrize("case,environment,endpoint,field,reason", BAD, ids=[c[0] for c in BAD])
def test_bad_off_hours_names_file_field_and_reason(tmp_path, case, environment, endpoint, field, reason):
    # GIVEN an environment file with a bad off_hours setting, WHEN it loads, THEN the error names all three.
    config_dir = _write(tmp_path, environment, **endpoint)
    with pytest.raises(ConfigError) as caught:
        load_config(environment, config_dir, check_locks=False)
    message = str(caught.value)
    assert str(config_dir / f"{environment}.yaml") in message
    assert f"  - {field}: " in message
    assert reason in message


def test_async_endpoint_may_go_to_zero_off_hours(tmp_path):
    config_dir = _write(tmp_path, "staging", mode="async", api_gateway=False,
                        off_hours={**OFF_HOURS, "min_instances": 0})
    assert load_config("staging", config_dir, check_locks=False).endpoint.off_hours.min_instances == 0


@pytest.mark.parametrize("cron", ["cron(0 7 ? * MON-FRI *)", "cron(30 18 ? * 2-6 2026-2030)", "cron(0 8 1,15 * ? *)",
                                  "cron(0 */2 ? JAN-MAR MON#1 *)", "cron(0 9 L * ? *)", "cron(0 9 15W * ? *)",
                                  "cron(0 6 ? * 6L *)"])
def test_cron_forms_application_auto_scaling_accepts(cron):
    assert aas_cron(cron) == cron


@pytest.mark.parametrize("cron", ["cron(60 7 ? * MON-FRI *)", "cron(0 7 ? * FRI-MON *)", "cron(0 7 ? * MOX *)",
                                  "cron(0 7 32 * ? *)", "cron(0 7 ? * MON-FRI 1969)", "cron(0 7 ? * MON#6 *)",
                                  "cron(0 7 ? * * *"])
def test_cron_forms_it_refuses(cron):
    with pytest.raises(ValueError):
        aas_cron(cron)


def test_shipped_staging_scales_down_off_hours_and_prod_does_not():
    assert load_config("staging").endpoint.off_hours is not None
    assert load_config("prod").endpoint.off_hours is None
    assert load_config("dev").endpoint.mode == "serverless" and load_config("dev").endpoint.off_hours is None


# --- the scheduled actions -------------------------------------------------------------------------

def _spec(mode: str, **off_hours) -> EndpointSpec:
    endpoint = load_config("staging").endpoint.model_copy(update={
        "mode": mode, "min_instances": 2, "max_instances": 4,
        "off_hours": OffHoursScaling(**{**OFF_HOURS, **off_hours})})
    return EndpointSpec(config=endpoint, endpoint_name="mlp-stg-endpoint", kms_key_arn="k", capture_s3_uri="s3://b/c")


def _actions(spec: EndpointSpec) -> dict[str, dict]:
    document = spec.scaling_document()
    assert document is not None
    return {a["ScheduledActionName"]: a for a in document["ScheduledActions"]}


def test_realtime_is_held_at_the_floor_off_hours_and_gets_its_range_back_at_start():
    actions = _actions(_spec("realtime", min_instances=1))
    off, on = actions["mlp-stg-endpoint-off-hours"], actions["mlp-stg-endpoint-working-hours"]
    assert off["Schedule"] == OFF_HOURS["working_hours_stop"] and on["Schedule"] == OFF_HOURS["working_hours_start"]
    assert off["Timezone"] == on["Timezone"] == "Europe/Dublin"
    assert off["ScalableTargetAction"] == {"MinCapacity": 1, "MaxCapacity": 1}
    assert on["ScalableTargetAction"] == {"MinCapacity": 2, "MaxCapacity": 4}
    assert off["ResourceId"] == "endpoint/mlp-stg-endpoint/variant/AllTraffic"
    assert off["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"


def test_realtime_with_an_off_hours_ceiling_may_scale_out_up_to_it():
    off = _actions(_spec("realtime", min_instances=1, max_instances=3))["mlp-stg-endpoint-off-hours"]
    assert off["ScalableTargetAction"] == {"MinCapacity": 1, "MaxCapacity": 3}


def test_async_goes_to_zero_off_hours_keeping_room_for_the_backlog_policy():
    spec = _spec("async", min_instances=0)
    document = spec.scaling_document()
    actions = _actions(spec)
    # Off hours: floor 0, ceiling the endpoint's, so HasBacklogWithoutCapacity can still add an instance.
    assert actions["mlp-stg-endpoint-off-hours"]["ScalableTargetAction"] == {"MinCapacity": 0, "MaxCapacity": 4}
    assert actions["mlp-stg-endpoint-working-hours"]["ScalableTargetAction"] == {"MinCapacity": 2, "MaxCapacity": 4}
    assert document["Target"]["MinCapacity"] == 2
    assert any(p["PolicyType"] == "StepScaling" for p in document["Policies"])
    assert document["StepAlarm"]["MetricName"] == "HasBacklogWithoutCapacity"


def test_async_without_off_hours_still_scales_to_zero_at_any_time():
    endpoint = load_config("staging").endpoint.model_copy(update={"mode": "async", "off_hours": None})
    spec = EndpointSpec(config=endpoint, endpoint_name="e", kms_key_arn="k", capture_s3_uri="s3://b/c")
    assert spec.scaling_document()["Target"]["MinCapacity"] == 0
    assert spec.off_hours_actions() == []


# --- where the actions go ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def staging_stage() -> MlPlatformStage:
    return MlPlatformStage(cdk.App(context=CDK_CONTEXT), "Staging", config=load_config("staging"))


@pytest.fixture(scope="module")
def pinned_staging() -> Template:
    config = load_config("staging")
    config = config.model_copy(update={"endpoint": config.endpoint.model_copy(
        update={"initial_model_package_arn": PACKAGE})})
    return Template.from_stack(MlPlatformStage(cdk.App(context=CDK_CONTEXT), "Staging", config=config).serving)


def test_stack_owned_endpoint_gets_the_actions_on_its_scalable_target(pinned_staging):
    # GIVEN staging with a pinned first model, THEN CloudFormation registers the target with both actions.
    pinned_staging.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {
        "ResourceId": "endpoint/mlp-stg-endpoint/variant/AllTraffic", "MinCapacity": 1, "MaxCapacity": 2,
        "ScheduledActions": Match.array_with([
            {"ScheduledActionName": "off-hours", "Schedule": "cron(0 20 ? * MON-FRI *)", "Timezone": "Europe/Dublin",
             "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 1}},
            {"ScheduledActionName": "working-hours", "Schedule": "cron(0 7 ? * MON-FRI *)",
             "Timezone": "Europe/Dublin", "ScalableTargetAction": {"MinCapacity": 1, "MaxCapacity": 2}}])})


def test_deployer_owned_endpoint_gets_the_actions_in_its_scaling_document(staging_stage):
    # GIVEN staging with an empty registry, THEN no scalable target in the stack: the deployer registers
    # it when the endpoint it created is in service, from SCALING_SPEC, scheduled actions included.
    template = Template.from_stack(staging_stage.serving)
    assert template.find_resources("AWS::ApplicationAutoScaling::ScalableTarget") == {}
    (deployer,) = [f["Properties"] for f in template.find_resources("AWS::Lambda::Function").values()
                   if f["Properties"]["Description"].startswith("Deploys approved")]
    scaling = staging_stage.serving.resolve(deployer["Environment"]["Variables"]["SCALING_SPEC"])
    document = json.loads(scaling) if isinstance(scaling, str) else None
    assert document is not None, "SCALING_SPEC holds no token: the scaling document is plain JSON"
    names = {a["ScheduledActionName"]: a for a in document["ScheduledActions"]}
    assert names["mlp-stg-endpoint-off-hours"]["Timezone"] == "Europe/Dublin"
    assert names["mlp-stg-endpoint-off-hours"]["ScalableTargetAction"] == {"MinCapacity": 1, "MaxCapacity": 1}
    template.has_resource_properties("AWS::Events::Rule", {"EventPattern": Match.object_like({
        "detail-type": ["SageMaker Endpoint State Change"]})})
