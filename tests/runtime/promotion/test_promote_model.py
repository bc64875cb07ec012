"""GIVEN the prod deployer, endpoint and runtime answering as AWS answers (botocore Stubber) WHEN the
delivery pipeline's post-Prod step runs scripts/promote_model.py THEN it deploys the newest approved
package, waits for the blue/green update to finish on the new configuration, and smoke-tests the
endpoint with a row as wide as the model; any failure stops the pipeline with the reason (issue 9
defect 8)."""
from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "promote_model.py"
spec = importlib.util.spec_from_file_location("promote_model_script", SCRIPT)
promote_model = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = promote_model  # dataclasses look their module up there
spec.loader.exec_module(promote_model)

FUNCTION, ENDPOINT, CONFIG = "mlp-prod-endpoint-deployer", "mlp-prod-endpoint", "mlp-prod-endpoint-config-0a1b2c3d4e5f"
ENDPOINT_ARN = f"arn:aws:sagemaker:eu-west-1:333333333333:endpoint/{ENDPOINT}"


def _client(service):
    return boto3.client(service, region_name="eu-west-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def _stream(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


@pytest.fixture
def stubs():
    clients = promote_model.Clients(_client("lambda"), _client("sagemaker"), _client("sagemaker-runtime"))
    stubbers = [Stubber(c) for c in (clients.lambda_, clients.sagemaker, clients.runtime)]
    for s in stubbers:
        s.activate()
    yield clients, stubbers
    for s in stubbers:
        s.assert_no_pending_responses()
        s.deactivate()


def _deployer_answers(stub, payload: dict, error: bool = False):
    response = {"StatusCode": 200, "Payload": _stream(json.dumps(payload).encode())}
    if error:
        response["FunctionError"] = "Unhandled"
    stub.add_response("invoke", response, {"FunctionName": FUNCTION, "InvocationType": "RequestResponse",
                                           "Payload": json.dumps({"action": "deploy-latest"}).encode()})


def _endpoint(stub, status: str, config: str = CONFIG):
    import datetime as dt
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    stub.add_response("describe_endpoint", {"EndpointName": ENDPOINT, "EndpointArn": ENDPOINT_ARN,
                                            "EndpointConfigName": config, "EndpointStatus": status,
                                            "CreationTime": now, "LastModifiedTime": now},
                      {"EndpointName": ENDPOINT})


def _runtime_refuses_width(stub, width: int):
    stub.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424,
                          service_message="Received client error (400) from primary",
                          modeled_fields={"OriginalStatusCode": 400,
                                          "OriginalMessage": f"row 1 has 1 columns, expected {width}"})


def _runtime_predicts(stub, width: int, body: dict):
    stub.add_response("invoke_endpoint", {"Body": _stream(json.dumps(body).encode()),
                                          "ContentType": "application/json"},
                      {"EndpointName": ENDPOINT, "ContentType": "text/csv", "Accept": "application/json",
                       "Body": ",".join(["0"] * width).encode()})


def test_deploys_waits_for_the_update_and_smoke_tests_with_the_models_width(stubs):
    clients, (lam, sm, rt) = stubs
    _deployer_answers(lam, {"action": "updated", "endpoint_config_name": CONFIG, "endpoint_name": ENDPOINT})
    _endpoint(sm, "Updating", config="mlp-prod-endpoint-config-old")
    _endpoint(sm, "InService")
    _runtime_refuses_width(rt, 30)
    _runtime_predicts(rt, 30, {"predictions": [0.0312]})
    result = promote_model.promote(clients, function_name=FUNCTION, endpoint_name=ENDPOINT, timeout_s=600,
                                   sleep=lambda _s: None)
    assert result["action"] == "updated" and result["smoke_test_predictions"] == [0.0312]


def test_a_rolled_back_update_fails_the_promotion(stubs):
    clients, (lam, sm, _) = stubs
    _deployer_answers(lam, {"action": "updated", "endpoint_config_name": CONFIG})
    _endpoint(sm, "InService", config="mlp-prod-endpoint-config-old")
    with pytest.raises(promote_model.PromotionError, match="rolled back"):
        promote_model.promote(clients, function_name=FUNCTION, endpoint_name=ENDPOINT, timeout_s=600,
                              sleep=lambda _s: None)


def test_a_deployer_error_fails_with_its_message(stubs):
    clients, (lam, _, _) = stubs
    _deployer_answers(lam, {"errorType": "DeploymentError",
                            "errorMessage": "model package group 'mlp-prod-models' has no Approved package"},
                      error=True)
    with pytest.raises(promote_model.PromotionError, match="has no Approved package"):
        promote_model.promote(clients, function_name=FUNCTION, endpoint_name=ENDPOINT, timeout_s=600)


def test_a_model_that_answers_5xx_fails_the_smoke_test(stubs):
    clients, (lam, sm, rt) = stubs
    _deployer_answers(lam, {"action": "unchanged", "endpoint_config_name": CONFIG})
    _endpoint(sm, "InService")
    rt.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424,
                        modeled_fields={"OriginalStatusCode": 500, "OriginalMessage": "worker crashed"})
    with pytest.raises(promote_model.PromotionError, match="answered 500"):
        promote_model.promote(clients, function_name=FUNCTION, endpoint_name=ENDPOINT, timeout_s=600)


def test_main_prints_the_reason_and_exits_1(monkeypatch, capsys, stubs):
    clients, (lam, _, _) = stubs
    _deployer_answers(lam, {"errorType": "DeploymentError", "errorMessage": "nothing approved"}, error=True)
    monkeypatch.setattr(promote_model, "clients_for", lambda region, role: clients)
    code = promote_model.main(["--function-name", FUNCTION, "--endpoint-name", ENDPOINT, "--region", "eu-west-1"])
    assert code == 1 and "promotion failed: deployer" in capsys.readouterr().err
