"""GIVEN an environment answering as AWS answers (botocore Stubber; the API front as a real HTTP server on
127.0.0.1 that verifies the SigV4 signature) WHEN the delivery pipeline's post-deploy step runs
scripts/post_deploy_check.py THEN it passes only when the training pipeline is Active, a deployed
endpoint answers a known payload through the clients' path and no platform alarm is in ALARM, and it
names every failed check."""
from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.response import StreamingBody
from botocore.stub import Stubber

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "post_deploy_check.py"
spec = importlib.util.spec_from_file_location("post_deploy_check_script", SCRIPT)
check = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = check  # dataclasses look their module up there
spec.loader.exec_module(check)

REGION, ACCOUNT = "eu-west-1", "222222222222"
PIPELINE, ENDPOINT = "mlp-stg-training", "mlp-stg-endpoint"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:mlp-stg-alerts"
NOW = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.timezone.utc)
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")


def _client(service):
    return boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def stubs():
    clients = check.Clients(_client("sagemaker"), _client("sagemaker-runtime"), _client("cloudwatch"),
                            CREDENTIALS, REGION)
    stubbers = [Stubber(clients.sagemaker), Stubber(clients.runtime), Stubber(clients.cloudwatch)]
    for s in stubbers:
        s.activate()
    yield clients, *stubbers
    for s in stubbers:
        s.assert_no_pending_responses()
        s.deactivate()


def _pipeline(stub, status="Active"):
    stub.add_response("describe_pipeline", {"PipelineArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PIPELINE}",
                                            "PipelineName": PIPELINE, "PipelineStatus": status},
                      {"PipelineName": PIPELINE})


def _endpoint(stub, status="InService"):
    stub.add_response("describe_endpoint", {
        "EndpointName": ENDPOINT, "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}",
        "EndpointConfigName": f"{ENDPOINT}-config-0a1b2c3d4e5f", "EndpointStatus": status,
        "CreationTime": NOW, "LastModifiedTime": NOW}, {"EndpointName": ENDPOINT})


def _alarms(stub, *alarms):
    stub.add_response("describe_alarms", {"MetricAlarms": list(alarms), "CompositeAlarms": []},
                      {"StateValue": "ALARM", "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})


def _alarm(name, actions):
    return {"AlarmName": name, "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
            "StateValue": "ALARM", "StateReason": "Threshold Crossed: 1 datapoint [3.0] >= 1.0",
            "AlarmActions": actions}


def _invoke(stub, body, answer=None, error_message=None):
    params = {"EndpointName": ENDPOINT, "ContentType": "text/csv", "Accept": "application/json", "Body": body.encode()}
    if error_message is None:
        data = json.dumps(answer).encode()
        stub.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(data), len(data)),
                                              "ContentType": "application/json"}, params)
    else:
        stub.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424,
                              service_message="Received client error (400) from primary",
                              response_meta={"OriginalStatusCode": 400}, expected_params=params,
                              modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": error_message})


def test_all_checks_pass_through_invoke_endpoint(stubs):
    # GIVEN an Active pipeline, an endpoint whose model wants 3 columns, an alarm in ALARM that is not ours
    clients, sm, runtime, cw = stubs
    _pipeline(sm)
    _endpoint(sm)
    _invoke(runtime, "0", error_message="row 1 has 1 columns, expected 3")
    _invoke(runtime, "0,0,0", answer={"predictions": [0.12]})
    _alarms(cw, _alarm("someone-elses-alarm", [f"arn:aws:sns:{REGION}:{ACCOUNT}:other-topic"]))
    # WHEN the checks run
    passed, failed = check.run_checks(clients, pipeline_name=PIPELINE, alert_topic_arn=TOPIC, endpoint_name=ENDPOINT)
    # THEN every check passes and says what it saw
    assert failed == []
    assert passed == [f"training pipeline {PIPELINE} is Active",
                      f"endpoint {ENDPOINT} answered the known payload: [0.12]", "no platform alarm is in ALARM"]


def test_every_failure_is_named(stubs):
    clients, sm, runtime, cw = stubs
    sm.add_client_error("describe_pipeline", service_error_code="ResourceNotFound", http_status_code=400,
                        service_message=f"Pipeline {PIPELINE} does not exist", expected_params={"PipelineName": PIPELINE})
    _endpoint(sm)
    _invoke(runtime, "0", error_message="model server crashed")
    _alarms(cw, _alarm("mlp-stg-endpoint-5xx-errors", [TOPIC]))
    passed, failed = check.run_checks(clients, pipeline_name=PIPELINE, alert_topic_arn=TOPIC, endpoint_name=ENDPOINT)
    assert passed == []
    assert failed[0] == f"training pipeline {PIPELINE}: Pipeline {PIPELINE} does not exist"
    assert failed[1].startswith(f"endpoint {ENDPOINT} answered 400 to the width probe: model server crashed")
    assert failed[2] == ("1 platform alarm(s) in ALARM: mlp-stg-endpoint-5xx-errors "
                         "(Threshold Crossed: 1 datapoint [3.0] >= 1.0)")


def test_no_endpoint_deployed_yet_is_not_a_failure(stubs):
    # GIVEN an empty registry: the deployer has created no endpoint, THEN nothing is invoked.
    clients, sm, _runtime, cw = stubs
    _pipeline(sm)
    sm.add_client_error("describe_endpoint", service_error_code="ValidationException", http_status_code=400,
                        service_message=f'Could not find endpoint "{ENDPOINT}".', expected_params={"EndpointName": ENDPOINT})
    _alarms(cw)
    passed, failed = check.run_checks(clients, pipeline_name=PIPELINE, alert_topic_arn=TOPIC, endpoint_name=ENDPOINT)
    assert failed == [] and "none deployed yet" in passed[1]


def test_endpoint_still_updating_and_inactive_pipeline_fail(stubs):
    clients, sm, _runtime, cw = stubs
    _pipeline(sm, status="Deleting")
    _endpoint(sm, status="Updating")
    _alarms(cw)
    _passed, failed = check.run_checks(clients, pipeline_name=PIPELINE, alert_topic_arn=TOPIC, endpoint_name=ENDPOINT)
    assert failed == [f"training pipeline {PIPELINE} is Deleting, not Active",
                      f"endpoint {ENDPOINT} is Updating: not InService"]


# --- the API front: a signed POST to a real HTTP server ---------------------------------------------

class _SigV4Api(BaseHTTPRequestHandler):
    """POST /prod/invocations: 403 unless the SigV4 signature (execute-api, this region) verifies; then
    the proxy's answers: 400 with the model's reason for a one-column row, one prediction for three."""

    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        authorization = self.headers.get("Authorization", "")
        # Recompute over the headers the client signed (the HTTP library adds others, unsigned).
        signed = authorization.partition("SignedHeaders=")[2].partition(",")[0].split(";")
        headers = {k: v for k, v in self.headers.items() if k.lower() in signed}
        url = f"http://{self.headers['Host']}{self.path}"
        expected = AWSRequest(method="POST", url=url, data=body, headers=headers)
        expected.context["timestamp"] = self.headers["X-Amz-Date"]
        signer = SigV4Auth(CREDENTIALS, "execute-api", REGION)
        signature = signer.signature(signer.string_to_sign(expected, signer.canonical_request(expected)), expected)
        self.seen.append((self.path, body.decode(), authorization))
        if f"Signature={signature}" not in authorization or "/execute-api/aws4_request" not in authorization:
            return self._answer(403, {"message": "The request signature we calculated does not match"})
        if body == b"0":
            return self._answer(400, {"message": "model rejected the request: row 1 has 1 columns, expected 3"})
        return self._answer(200, {"predictions": [0.87]})

    def _answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def api_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SigV4Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _SigV4Api.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/prod/invocations"
    server.shutdown()
    server.server_close()


def test_api_front_answers_a_signed_request(api_url):
    # WHEN the known payload goes through the API front, signed as an IAM-authorized client signs it
    predictions = check.answer_known_payload(check.api_sender(api_url, CREDENTIALS, REGION), "API")
    # THEN the server verified both signatures and the model's width was learnt from its 400
    assert predictions == [0.87]
    assert [(path, body) for path, body, _ in _SigV4Api.seen] == [("/prod/invocations", "0"),
                                                                  ("/prod/invocations", "0,0,0")]


def test_api_front_refuses_a_wrong_signature(api_url):
    wrong = Credentials("AKIDEXAMPLE", "not-the-secret", "session-token")
    with pytest.raises(check.CheckFailed, match="answered 403 to the width probe: .*signature"):
        check.answer_known_payload(check.api_sender(api_url, wrong, REGION), "API")


def test_run_checks_uses_the_api_path_when_given(stubs, api_url):
    clients, sm, _runtime, cw = stubs
    _pipeline(sm)
    _endpoint(sm)
    _alarms(cw)
    passed, failed = check.run_checks(clients, pipeline_name=PIPELINE, alert_topic_arn=TOPIC, endpoint_name=ENDPOINT,
                                      api_url=api_url)
    assert failed == [] and passed[1] == f"API {api_url} answered the known payload: [0.87]"
