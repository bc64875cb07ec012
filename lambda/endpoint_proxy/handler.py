"""Endpoint proxy: API Gateway (REST, IAM auth) -> SageMaker `InvokeEndpoint` -> the model's answer.

The body is forwarded as-is with its Content-Type and Accept (base64 when API Gateway marks it so);
the model's body and content type come back. Errors are answered with a one-line reason:
400/413/415 for requests that cannot be forwarded, the model's or SageMaker's 4xx for requests it
refused, 429 when SageMaker throttles, 502 for everything else. Payloads are never logged: the
structured log lines carry sizes, types, status and request ids only.
"""
from __future__ import annotations

import json
import logging
import os
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from proxy_request import ClientRequestError, Invocation, invocation_from

log = logging.getLogger()
log.setLevel(logging.INFO)

THROTTLED = ("ThrottlingException", "TooManyRequestsException", "ServiceUnavailable", "ThrottledException")
CLIENT_ERRORS = ("ValidationError", "ValidationException", "ModelError")

_client = None


def _runtime():
    global _client
    if _client is None:
        # One attempt: API Gateway's 29 s integration timeout leaves no room for retries.
        _client = boto3.client("sagemaker-runtime", config=Config(retries={"max_attempts": 1, "mode": "standard"},
                                                                  read_timeout=25, connect_timeout=2))
    return _client


def _answer(status: int, body: str, content_type: str = "application/json") -> dict:
    return {"statusCode": status, "headers": {"Content-Type": content_type}, "body": body, "isBase64Encoded": False}


def _error(status: int, reason: str) -> dict:
    return _answer(status, json.dumps({"message": reason.splitlines()[0] if reason else "error"}))


def _invoke(runtime, endpoint_name: str, request: Invocation) -> dict:
    args = {"EndpointName": endpoint_name, "Body": request.body, "ContentType": request.content_type,
            "Accept": request.accept}
    if request.target_model:
        args["TargetModel"] = request.target_model
    response = runtime.invoke_endpoint(**args)
    body = response["Body"].read()
    content_type = response.get("ContentType") or request.accept
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # The API declares no binary media types: only text answers (CSV, JSON) can pass through.
        return _error(502, f"the model answered with a non-text body ({content_type}); ask for text/csv or "
                           "application/json in Accept")
    return _answer(200, text, content_type)


def _from_client_error(error: ClientError) -> dict:
    """SageMaker's answer mapped to what the caller can act on."""
    info = error.response.get("Error", {})
    code, message = info.get("Code", ""), info.get("Message", "")
    status = error.response.get("OriginalStatusCode") or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in THROTTLED or status == 429:
        return _error(429, "the endpoint is throttling requests; retry with backoff")
    if code in CLIENT_ERRORS and 400 <= int(status or 400) < 500:
        return _error(int(status or 400), f"model rejected the request: {message}")
    return _error(502, f"the endpoint could not answer ({code or 'unknown error'})")


def handle(event: dict, runtime, endpoint_name: str) -> dict:
    """One API Gateway proxy event -> one proxy response; the client is passed in so tests can stub it."""
    started = time.monotonic()
    request_id = (event.get("requestContext") or {}).get("requestId")
    request = None
    try:
        request = invocation_from(event)
        result = _invoke(runtime, endpoint_name, request)
    except ClientRequestError as error:
        result = _error(error.status, error.reason)
    except ClientError as error:
        result = _from_client_error(error)
        log.warning(json.dumps({"event": "invoke_failed", "request_id": request_id,
                                "code": error.response.get("Error", {}).get("Code"), "status": result["statusCode"]}))
    except (BotoCoreError, OSError) as error:
        result = _error(502, f"the endpoint could not be reached ({type(error).__name__})")
        log.warning(json.dumps({"event": "invoke_failed", "request_id": request_id, "error": type(error).__name__}))
    log.info(json.dumps({"event": "invocation", "request_id": request_id, "endpoint": endpoint_name,
                         "status": result["statusCode"], "request_bytes": len(request.body) if request else None,
                         "content_type": request.content_type if request else None,
                         "target_model": request.target_model if request else None,
                         "duration_ms": round((time.monotonic() - started) * 1000, 1)}))
    return result


def handler(event: dict, context) -> dict:
    """Lambda entry point."""
    return handle(event, _runtime(), os.environ["ENDPOINT_NAME"])
