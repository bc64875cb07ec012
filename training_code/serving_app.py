"""The SageMaker inference contract, independent of the HTTP machinery (serving_http.py).

``GET|HEAD /ping`` is 200 once the model is loaded (500 with the reason if it cannot be),
``POST /invocations`` predicts, ``GET /execution-parameters`` tells batch transform how to call
us. A request that is wrong gets a 4xx with a one-line reason; only a model that cannot load or
predict answers 5xx (rollback alarms count 5xx: a client's mistake must never trip them).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import serving_codec as codec
import serving_output as output
from serving_config import Settings
from serving_model import ModelError, ServedModel, load_model

log = logging.getLogger("serve")
TEXT = "text/plain; charset=utf-8"
_ROUTES = {b"/ping": (b"GET", b"HEAD"), b"/execution-parameters": (b"GET", b"HEAD"),
           b"/invocations": (b"POST",)}


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = TEXT
    headers: list[tuple[str, str]] = field(default_factory=list)


def text(status: int, reason: str, headers: list | None = None) -> Response:
    """A one-line plain-text answer."""
    return Response(status, (" ".join(reason.split()) + "\n").encode(), TEXT, headers or [])


class App:
    """The model (loaded once, before the worker accepts) and the routes."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model: ServedModel | None = None
        self.error: str | None = None

    def load(self) -> None:
        """Load the model; a failure is remembered and answered as 500 by /ping and /invocations."""
        s = self.settings
        try:
            self.model = load_model(s.model_dir, nthread=s.nthread, fast_max_rows=s.fast_max_rows)
            log.info("model loaded: %d features, %s; %s", self.model.n_features,
                     self.model.objective, self.model.note)
        except ModelError as error:
            self.error = str(error)
            log.error("model failed to load: %s", error)
        except Exception as error:  # noqa: BLE001 - any load failure is a broken model
            self.error = f"{type(error).__name__}: {error}"
            log.exception("model failed to load")

    def handle(self, method: bytes, target: bytes, headers: dict[bytes, bytes],
               body: bytes) -> Response:
        path = target.split(b"?", 1)[0]
        allowed = _ROUTES.get(path)
        if allowed is None:
            return text(404, "not found: POST /invocations, GET /ping, GET /execution-parameters")
        if method not in allowed:
            names = ", ".join(m.decode() for m in allowed)
            return text(405, f"{method.decode('latin-1')} {path.decode('latin-1')} is not "
                             f"allowed; use {names}", [("Allow", names)])
        if path == b"/invocations":
            return self.invoke(headers, body)
        if path == b"/ping":
            if self.model is not None:
                return Response(200)
            return text(500, f"model failed to load: {self.error}")
        return Response(200, json.dumps({
            "MaxConcurrentTransforms": self.settings.workers,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": self.settings.max_payload_bytes // (1024 * 1024),
        }).encode(), codec.JSON)

    def invoke(self, headers: dict[bytes, bytes], body: bytes) -> Response:
        model = self.model
        if model is None:
            return text(500, f"model failed to load: {self.error}")
        content_type = headers.get(b"content-type")
        accept = headers.get(b"accept")
        try:
            kind = output.choose_accept(accept and accept.decode("latin-1"),
                                        self.settings.default_accept)
            if codec.is_empty(body):
                return Response(204)  # the built-in's answer to an empty body
            rows = codec.decode(body, content_type and content_type.decode("latin-1"),
                                model.n_features)
        except codec.RequestError as error:
            return text(error.status, error.reason)
        try:
            predictions = model.predict(rows)
        except Exception as error:  # noqa: BLE001 - the request was valid: the model is at fault
            log.exception("prediction failed")
            return text(500, f"prediction failed: {type(error).__name__}")
        payload, answer_type = output.encode(predictions, kind, model.output)
        return Response(200, payload, answer_type)
