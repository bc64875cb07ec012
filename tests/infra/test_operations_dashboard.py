"""The environment's dashboard: its widgets follow what the Stage contains (dev serverless, staging
real-time with an API and monitoring, a configuration without features and labeling)."""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from ml_platform.config import load_config
from ml_platform.stages.platform_stage import MlPlatformStage

CDK_CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]


def dashboard_body(template: Template, joined_json) -> dict:
    """The dashboard's body, parsed, its references as the intrinsics themselves (`joined_json`)."""
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    return joined_json(dashboard["Properties"]["DashboardBody"])


def _graphs(body: dict) -> dict[str, list[list]]:
    return {w["properties"]["title"]: w["properties"].get("metrics", []) for w in body["widgets"]
            if w["type"] == "metric"}


def _headers(body: dict) -> list[str]:
    return [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"
            and w["properties"]["markdown"].startswith("## ")]


def _names(metrics: list[list]) -> set[tuple[str, str]]:
    return {(m[0], m[1]) for m in metrics if isinstance(m[0], str)}


def _dimension(metrics: list[list], name: str) -> set[str]:
    return {m[m.index(name) + 1] for m in metrics if name in m}


@pytest.fixture(scope="module")
def dev(dev_stage, template_of, joined_json) -> dict:
    return dashboard_body(template_of(dev_stage.dashboard), joined_json)


@pytest.fixture(scope="module")
def staging(stages, template_of, joined_json) -> dict:
    return dashboard_body(template_of(stages["staging"].dashboard), joined_json)


@pytest.fixture(scope="module")
def without_features_and_labeling(joined_json) -> dict:
    config = load_config("dev")
    config = config.model_copy(update={"features": config.features.model_copy(update={"enabled": False}),
                                       "labeling": config.labeling.model_copy(update={"enabled": False})})
    stage = MlPlatformStage(cdk.App(context=CDK_CONTEXT), "Dev", config=config)
    assert stage.feature_store is None and stage.labeling is None
    return dashboard_body(Template.from_stack(stage.dashboard), joined_json)


def test_the_dashboard_is_its_own_last_stack_named_after_the_environment(dev_stage, template_of):
    (dashboard,) = template_of(dev_stage.dashboard).find_resources("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "mlp-dev-platform"
    # Nothing depends on it (the Operations stack, which every stack depends on, cannot hold it).
    assert all(dev_stage.dashboard not in s.dependencies for s in dev_stage.node.children if isinstance(s, cdk.Stack))


def test_dev_serverless_endpoint_shows_invocations_latency_errors_and_cold_starts(dev):
    graphs = _graphs(dev)
    invocations = graphs["Endpoint invocations and errors"]
    assert _names(invocations) == {("AWS/SageMaker", m) for m in ("Invocations", "Invocation4XXErrors",
                                                                  "Invocation5XXErrors")}
    assert _dimension(invocations, "EndpointName") == {"mlp-dev-endpoint"}
    latency = graphs["Model latency p50 / p99 (microseconds)"]
    assert {m[-1]["stat"] for m in latency} == {"p50", "p99"}
    assert ("AWS/SageMaker", "ModelSetupTime") in _names(graphs["Serverless cold starts (ModelSetupTime, microseconds)"])
    assert "Instance count and CPU" not in graphs and "Async backlog" not in graphs
    assert "## Endpoint API" not in _headers(dev) and "## Model monitoring" not in _headers(dev)


def test_staging_realtime_shows_instances_api_and_monitoring(staging):
    graphs = _graphs(staging)
    instances = graphs["Instance count and CPU"]
    (expression,) = [m[0] for m in instances if isinstance(m[0], dict)]
    assert expression["expression"] == "invocations / per_instance"
    assert ("/aws/sagemaker/Endpoints", "CPUUtilization") in _names(instances)
    api = graphs["API requests"]
    assert {("AWS/ApiGateway", m) for m in ("Count", "4XXError", "5XXError")} <= _names(api)
    assert ("MLPlatform/EndpointApi/mlp-stg-endpoint-api", "ThrottledRequests") in _names(api)
    assert _dimension(api, "ApiName") == {"mlp-stg-endpoint-api"}
    monitoring = graphs["Monitoring violations"]
    assert _names(monitoring) == {("MLPlatform/ModelMonitoring", m)
                                  for m in ("Violations", "DriftedFeatures", "ModelQualityViolations")}
    assert _dimension(monitoring, "Endpoint") == {"mlp-stg-endpoint"}
    assert "mlp-stg-endpoint-proxy" in _dimension(graphs["Lambda errors"], "FunctionName")


@pytest.mark.parametrize("body", ["dev", "staging"])
def test_stream_firehose_glue_pipeline_and_budget_widgets(body, request, stages, reference):
    graphs = _graphs(request.getfixturevalue(body))
    lag = graphs["Event stream iterator age and throttling"]
    assert {("AWS/Kinesis", m) for m in ("GetRecords.IteratorAgeMilliseconds", "WriteProvisionedThroughputExceeded",
                                         "ReadProvisionedThroughputExceeded")} == _names(lag)
    # the stream's generated name comes from the Ingestion stack (a cross-stack reference)
    stream = reference(stages[body].dashboard, stages[body].ingestion.stream, None)
    assert [m[m.index("StreamName") + 1] for m in lag] == [stream] * len(lag)
    firehose = _names(graphs["Firehose freshness and failed records"])
    assert {("AWS/Firehose", "DeliveryToS3.DataFreshness"), ("AWS/Firehose", "FailedConversion.Records")} <= firehose
    glue = [m[0]["expression"] for m in graphs["Glue job failures"]]
    assert any('"glue.error.ALL"' in e and "raw-to-curated" in e for e in glue)
    assert ("AWS/Sagemaker/ModelBuildingPipeline", "ExecutionFailed") in _names(graphs["Training pipeline executions"])
    (charges,) = graphs["Estimated charges vs budget (account, us-east-1)"]
    assert charges[:4] == ["AWS/Billing", "EstimatedCharges", "Currency", "USD"]
    assert charges[-1]["region"] == "us-east-1"  # Billing metrics exist in us-east-1 only


def test_every_lambda_function_of_the_stage_has_errors_throttles_and_duration(dev):
    graphs = _graphs(dev)
    names = _dimension(graphs["Lambda errors"], "FunctionName")
    assert names == {"mlp-dev-endpoint-deployer", "mlp-dev-feature-ingestion", "mlp-dev-stream-transform",
                     "mlp-dev-labeling-pre-annotation", "mlp-dev-labeling-consolidation", "mlp-dev-labeling-steps"}
    assert _dimension(graphs["Lambda throttles"], "FunctionName") == names
    duration = graphs["Lambda duration p99 (ms)"]
    assert _dimension(duration, "FunctionName") == names and {m[-1]["stat"] for m in duration} == {"p99"}


def test_disabled_capabilities_have_no_widget(dev, without_features_and_labeling):
    functions = _dimension(_graphs(without_features_and_labeling)["Lambda errors"], "FunctionName")
    assert functions == {"mlp-dev-endpoint-deployer", "mlp-dev-stream-transform"}
    assert _headers(without_features_and_labeling) == _headers(dev)  # the other sections stay


def test_widgets_tile_the_24_column_grid_without_overlap(dev, staging):
    for body in (dev, staging):
        cells = set()
        for w in body["widgets"]:
            assert 0 <= w["x"] and w["x"] + w["width"] <= 24
            covered = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
            assert not cells & covered, w["properties"].get("title")
            cells |= covered
