"""The endpoint proxy on recorded API Gateway REST proxy events, against sagemaker-runtime with Stubber."""
from __future__ import annotations

import base64
import io
import json
import logging

from botocore.response import StreamingBody

ENDPOINT = "mlp-prd-endpoint"


def _streaming(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def _expect_invoke(stub, body: bytes, content_type: str, answer: bytes, answer_type: str, accept="application/json"):
    stub.add_response("invoke_endpoint", {"Body": _streaming(answer), "ContentType": answer_type},
                      {"EndpointName": ENDPOINT, "Body": body, "ContentType": content_type, "Accept": accept})


def test_csv_rows_pass_through_with_content_type_and_accept(proxy, runtime, load_event):
    # GIVEN a CSV request signed by a caller with execute-api:Invoke
    client, stub = runtime
    event = load_event("apigw_invocations_csv.json")
    _expect_invoke(stub, event["body"].encode(), "text/csv", b"[0.91, 0.07]", "application/json")
    # WHEN the proxy handles it
    result = proxy.handle(event, client, ENDPOINT)
    # THEN the model's body and content type come back unchanged
    assert result == {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "[0.91, 0.07]",
                      "isBase64Encoded": False}


def test_json_document_passes_through_with_its_charset(proxy, runtime, load_event):
    client, stub = runtime
    event = load_event("apigw_invocations_json.json")
    _expect_invoke(stub, event["body"].encode(), "application/json; charset=utf-8",
                   b'{"predictions": [0.91]}', "application/json")
    result = proxy.handle(event, client, ENDPOINT)
    assert result["statusCode"] == 200 and json.loads(result["body"]) == {"predictions": [0.91]}


def test_base64_body_is_decoded_before_forwarding(proxy, runtime, load_event):
    client, stub = runtime
    event = load_event("apigw_invocations_base64.json")
    _expect_invoke(stub, base64.b64decode(event["body"]), "text/csv", b"0.91", "text/csv; charset=utf-8")
    result = proxy.handle(event, client, ENDPOINT)
    assert result["statusCode"] == 200 and result["headers"]["Content-Type"] == "text/csv; charset=utf-8"


def test_missing_body_is_400_without_calling_the_endpoint(proxy, runtime, load_event):
    client, _ = runtime
    result = proxy.handle(load_event("apigw_invocations_no_body.json"), client, ENDPOINT)
    assert result["statusCode"] == 400 and "body is required" in json.loads(result["body"])["message"]


def test_payload_over_six_megabytes_is_413(proxy, runtime, load_event):
    # GIVEN a body API Gateway accepts (< 10 MB) but the endpoint would refuse (> 6 MB)
    client, _ = runtime
    event = load_event("apigw_invocations_csv.json")
    event["body"] = "1.0,2.0,3.0,4.0,5.0,6.0\n" * 300_000  # 7.2 MB
    result = proxy.handle(event, client, ENDPOINT)
    assert result["statusCode"] == 413 and "6 MB" in json.loads(result["body"])["message"]


def test_unsupported_content_type_is_415(proxy, runtime, load_event):
    client, _ = runtime
    event = load_event("apigw_invocations_csv.json")
    event["headers"]["Content-Type"] = "application/x-npy"
    assert proxy.handle(event, client, ENDPOINT)["statusCode"] == 415


def test_model_error_4xx_from_container_keeps_its_status_with_a_one_line_reason(proxy, runtime, load_event):
    # GIVEN the container refuses the rows (wrong number of features) and SageMaker wraps it as ModelError
    client, stub = runtime
    event = load_event("apigw_invocations_csv.json")
    stub.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424,
                          service_message='Received client error (400) from primary with message "feature_names '
                                          'mismatch: expected 6 columns, got 5".\nSee logs for details.',
                          modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "feature_names mismatch",
                                          "LogStreamArn": "arn:aws:logs:eu-west-1:333333333333:log-group:/aws/"
                                                          "sagemaker/Endpoints/mlp-prd-endpoint"})
    result = proxy.handle(event, client, ENDPOINT)
    message = json.loads(result["body"])["message"]
    assert result["statusCode"] == 400 and "\n" not in message and "model rejected the request" in message


def test_model_error_5xx_from_container_is_502(proxy, runtime, load_event):
    client, stub = runtime
    stub.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424,
                          service_message="Received server error (500) from primary",
                          modeled_fields={"OriginalStatusCode": 500})
    assert proxy.handle(load_event("apigw_invocations_csv.json"), client, ENDPOINT)["statusCode"] == 502


def test_validation_error_is_400(proxy, runtime, load_event):
    client, stub = runtime
    stub.add_client_error("invoke_endpoint", service_error_code="ValidationError", http_status_code=400,
                          service_message="Endpoint mlp-prd-endpoint of account 333333333333 not found.")
    result = proxy.handle(load_event("apigw_invocations_csv.json"), client, ENDPOINT)
    assert result["statusCode"] == 400 and "not found" in json.loads(result["body"])["message"]


def test_throttling_is_429(proxy, runtime, load_event):
    client, stub = runtime
    stub.add_client_error("invoke_endpoint", service_error_code="ThrottlingException", http_status_code=400,
                          service_message="Rate exceeded")
    assert proxy.handle(load_event("apigw_invocations_csv.json"), client, ENDPOINT)["statusCode"] == 429


def test_service_fault_is_502_with_the_error_code(proxy, runtime, load_event):
    client, stub = runtime
    stub.add_client_error("invoke_endpoint", service_error_code="InternalFailure", http_status_code=500,
                          service_message="An internal error occurred")
    result = proxy.handle(load_event("apigw_invocations_csv.json"), client, ENDPOINT)
    assert result["statusCode"] == 502 and "InternalFailure" in json.loads(result["body"])["message"]


def test_logs_are_json_lines_without_the_payload(proxy, runtime, load_event, caplog):
    client, stub = runtime
    event = load_event("apigw_invocations_csv.json")
    _expect_invoke(stub, event["body"].encode(), "text/csv", b"[0.91, 0.07]", "application/json")
    with caplog.at_level(logging.INFO):
        proxy.handle(event, client, ENDPOINT)
    lines = [json.loads(r.getMessage()) for r in caplog.records]
    assert lines and lines[-1]["status"] == 200 and lines[-1]["request_bytes"] == len(event["body"])
    assert all("5.1,3.5" not in r.getMessage() and "0.91" not in r.getMessage() for r in caplog.records)


def test_binary_answer_is_502_not_a_crash(proxy, runtime, load_event):
    client, stub = runtime
    event = load_event("apigw_invocations_csv.json")
    _expect_invoke(stub, event["body"].encode(), "text/csv", b"\x93NUMPY\xff\xfe", "application/x-npy")
    result = proxy.handle(event, client, ENDPOINT)
    assert result["statusCode"] == 502 and "non-text" in json.loads(result["body"])["message"]
