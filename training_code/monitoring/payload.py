"""Decode one captured request or response body into rows (CSV or JSON, base64 where captured so).

Rows of a request come back as lists of raw string tokens (CSV) or Python values (JSON); numbers
are converted later for the whole window at once, which is what makes a million records fast.
Anything that cannot be read raises `MalformedRecord` with a one-line reason.
"""
from __future__ import annotations

import base64
import binascii
import json

CSV, JSON = "text/csv", "application/json"
JSONLINES = ("application/jsonlines", "application/x-jsonlines", "application/jsonl")
# Keys the built-in XGBoost container (and SAGEMAKER_INFERENCE_OUTPUT) answers with, best first.
_SCORE_KEYS = ("score", "probability", "predicted_score", "predicted_label")


class MalformedRecord(ValueError):
    """A capture line or payload the monitor cannot use; `reason` is short and stable (it is counted)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def payload_text(part: dict) -> tuple[str, str]:
    """(media type, body text) of an `endpointInput`/`endpointOutput` object."""
    if not isinstance(part, dict) or "data" not in part:
        raise MalformedRecord("capture part without data")
    data, encoding = part["data"], str(part.get("encoding", "")).upper()
    if not isinstance(data, str):
        raise MalformedRecord("capture data is not a string")
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise MalformedRecord("invalid base64 or non-UTF-8 body") from None
    elif encoding not in ("CSV", "JSON"):
        raise MalformedRecord("unknown encoding", encoding[:20])
    return media_type(part.get("observedContentType")), data


def request_rows(kind: str, text: str) -> list:
    """Feature rows of a request: CSV -> one line string per row (split later, many at once);
    JSON -> one list of values per row."""
    if kind == CSV:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        if not lines:
            raise MalformedRecord("empty request body")
        return lines
    if kind == JSON:
        return _json_rows(_loads(text))
    raise MalformedRecord("unsupported request content type", kind or "(none)")


def _loads(text: str):
    try:
        return json.loads(text)
    except ValueError:
        raise MalformedRecord("request or response body is not valid JSON") from None


def _json_rows(payload) -> list:
    # The shapes serve.py accepts: {"instances": [...]}, {"features": [...]}, [[...], ...], [...].
    if isinstance(payload, dict):
        if "instances" in payload:
            payload = payload["instances"]
        elif "features" in payload:
            payload = [payload["features"]]
        else:
            raise MalformedRecord('JSON request without "instances" or "features"')
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = [item.get("features") if isinstance(item, dict) else None for item in payload]
    if not isinstance(payload, list) or not payload:
        raise MalformedRecord("JSON request holds no rows")
    if not isinstance(payload[0], list):
        payload = [payload]
    if not all(isinstance(row, list) for row in payload):
        raise MalformedRecord("JSON request rows are not lists")
    return payload


def response_values(kind: str, text: str, rows: int) -> list[float]:
    """One score per request row, from the response shapes serve.py and the built-in XGBoost
    container write: JSON `{"predictions": [0.4, ...]}` or `[{"score": 0.4}, ...]`; JSON Lines of
    `{"score": ...}`; CSV with one line per row, or one line of `rows` comma-separated values.
    A list (class probabilities) scores as its top class."""
    if kind == JSON:
        payload = _loads(text)
        items = payload.get("predictions") if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            raise MalformedRecord('JSON response without a "predictions" list')
    elif kind in JSONLINES:
        items = [_loads(line) for line in text.strip().splitlines() if line.strip()]
    elif kind == CSV:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        if len(lines) == 1 and rows > 1:
            items = lines[0].split(",")
        else:
            items = [line.split(",") if "," in line else line for line in lines]
    else:
        raise MalformedRecord("unsupported response content type", kind or "(none)")
    try:
        return [_score(item) for item in items]
    except (TypeError, ValueError):
        raise MalformedRecord("response value is not a number") from None


def _score(item) -> float:
    if isinstance(item, dict):
        item = next((item[k] for k in _SCORE_KEYS if k in item), None)
    if isinstance(item, list):  # class probabilities: the predicted class
        values = [float(v) for v in item]
        return float(max(range(len(values)), key=values.__getitem__))
    return float(item)
