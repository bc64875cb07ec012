"""API Gateway REST proxy event -> the arguments of one `InvokeEndpoint` call, or a client error."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

# SageMaker real-time endpoints accept request payloads up to 6 MB; API Gateway passes up to 10 MB.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
CONTENT_TYPES = ("text/csv", "application/json")


class ClientRequestError(Exception):
    """The request cannot be forwarded; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Invocation:
    body: bytes
    content_type: str
    accept: str
    target_model: str | None


def _headers(event: dict) -> dict[str, str]:
    """Headers with lower-case names (HTTP header names are case-insensitive; API Gateway keeps the client's)."""
    return {k.lower(): v for k, v in (event.get("headers") or {}).items() if v is not None}


def _body(event: dict) -> bytes:
    raw = event.get("body")
    if raw is None or raw == "":
        raise ClientRequestError(400, "request body is required (text/csv rows or a JSON document)")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ClientRequestError(400, "body is marked base64-encoded but is not valid base64") from None
    return raw.encode("utf-8")


def invocation_from(event: dict) -> Invocation:
    """Validate the event: a supported Content-Type, a body of at most 6 MB."""
    headers = _headers(event)
    content_type = headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in CONTENT_TYPES:
        raise ClientRequestError(415, f"Content-Type must be one of {', '.join(CONTENT_TYPES)}, got {media_type!r}")
    body = _body(event)
    if len(body) > MAX_PAYLOAD_BYTES:
        raise ClientRequestError(413, f"payload is {len(body)} bytes; the endpoint accepts at most "
                                      f"{MAX_PAYLOAD_BYTES} bytes (6 MB)")
    accept = headers.get("accept") or "application/json"
    if accept == "*/*":
        accept = "application/json"
    target = headers.get("x-amzn-sagemaker-target-model") or None
    return Invocation(body=body, content_type=content_type, accept=accept, target_model=target)
