"""One worker of the model server: a threaded HTTP/1.1 server on an inherited listening socket.

The SageMaker container contract: ``GET /ping`` is 200 once the model is loaded, ``POST
/invocations`` predicts, ``GET /execution-parameters`` tells batch transform how to call us.
Requests that are wrong get a 4xx with a one-line reason and the connection stays usable; only
a model that cannot load or predict answers 5xx.
"""
from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

import serving_codec as codec
from serving_config import Settings
from serving_model import ModelError, Predictor, load_predictor

log = logging.getLogger("serve")
_DRAIN_LIMIT = 64 * 1024 * 1024  # read and discard an oversized body up to this, to keep the connection


class ModelState:
    """The model as loaded in the background: loading, ready, or failed (with the reason)."""

    def __init__(self) -> None:
        self.predictor: Predictor | None = None
        self.error: str | None = None

    def load(self, settings: Settings) -> None:
        """Load the model; a failure is remembered and reported as 500 by /ping and /invocations."""
        try:
            self.predictor = load_predictor(settings.model_dir, nthread=settings.nthread,
                                            fast_max_rows=settings.fast_max_rows)
            log.info("model loaded: %d features, %s; %s", self.predictor.n_features,
                     self.predictor.objective, self.predictor.note)
        except ModelError as error:
            self.error = str(error)
            log.error("model failed to load: %s", error)
        except Exception as error:  # noqa: BLE001 - any load failure is a broken model
            self.error = f"{type(error).__name__}: {error}"
            log.exception("model failed to load")


class Handler(BaseHTTPRequestHandler):
    """Routes one connection's requests (keep-alive) to ping, invocations, execution-parameters."""

    protocol_version = "HTTP/1.1"
    server_version = "ml-platform-xgboost"
    state: ModelState
    settings: Settings

    def setup(self) -> None:
        super().setup()
        # One write per response, and no Nagle delay waiting for an ACK that is itself delayed.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        if self.path == "/ping":
            state = self.state
            if state.predictor is not None:
                self._reply(200, b"", "text/plain")
            elif state.error is not None:
                self._reply(500, f"model failed to load: {state.error}\n".encode(), "text/plain")
            else:
                self._reply(503, b"model loading\n", "text/plain")
        elif self.path == "/execution-parameters":
            body = json.dumps({
                "MaxConcurrentTransforms": self.settings.workers,
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": self.settings.max_payload_bytes // (1024 * 1024),
            }).encode()
            self._reply(200, body, codec.JSON)
        else:
            self._reply(404, b"not found: GET /ping or /execution-parameters\n", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/invocations":
            self._discard_body()
            self._reply(404, b"not found: POST /invocations\n", "text/plain")
            return
        body = self._read_body()
        if body is None:
            return
        try:
            status, payload, kind = self._invoke(body)
        except codec.RequestError as error:
            status, payload, kind = error.status, f"{error.reason}\n".encode(), "text/plain"
        self._reply(status, payload, kind)

    def _invoke(self, body: bytes) -> tuple[int, bytes, str]:
        predictor = self.state.predictor
        if predictor is None:
            reason = self.state.error and f"model failed to load: {self.state.error}"
            return (500, f"{reason}\n".encode(), "text/plain") if reason else (
                503, b"model loading\n", "text/plain")
        accept = codec.choose_accept(self.headers.get("Accept"), self.settings.default_accept)
        rows = codec.decode(body, self.headers.get("Content-Type"), predictor.n_features)
        try:
            predictions = predictor.predict(rows)
        except Exception as error:  # noqa: BLE001 - the request was valid: the model is at fault
            log.exception("prediction failed")
            return 500, f"prediction failed: {type(error).__name__}\n".encode(), "text/plain"
        return 200, codec.encode(predictions, accept), accept

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._reply(411, b"send Content-Length, not chunked encoding\n", "text/plain")
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._reply(400, b"bad Content-Length\n", "text/plain")
            return None
        if length > self.settings.max_payload_bytes:
            self._discard_body(length)
            limit_mb = self.settings.max_payload_bytes / (1024 * 1024)
            self._reply(413, f"payload of {length} bytes exceeds {limit_mb:g} MB "
                             "(SAGEMAKER_MAX_PAYLOAD_IN_MB)\n".encode(), "text/plain")
            return None
        return self.rfile.read(length)

    def _discard_body(self, length: int | None = None) -> None:
        if length is None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = _DRAIN_LIMIT + 1
        if length > _DRAIN_LIMIT:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        phrase = self.responses.get(status, ("",))[0]
        head = (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n")
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("latin-1") + b"\r\n" + body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - base-class signature
        pass  # a log line per request costs more than a prediction; errors are logged above


class WorkerServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A thread per connection, so one worker keeps many keep-alive clients served."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, listener: socket.socket, handler: type[Handler]):
        super().__init__(listener.getsockname(), handler, bind_and_activate=False)
        self.socket.close()
        self.socket = listener  # shared with the other workers: the kernel hands out connections


def serve_worker(listener: socket.socket, settings: Settings) -> None:
    """Run one worker until killed: start answering at once, load the model in the background."""
    state = ModelState()
    handler = type("BoundHandler", (Handler,), {"state": state, "settings": settings,
                                               "timeout": settings.timeout_s})
    threading.Thread(target=state.load, args=(settings,), daemon=True).start()
    WorkerServer(listener, handler).serve_forever(poll_interval=0.5)
