"""One worker of the model server: an asyncio HTTP/1.1 server on the inherited listening socket.

HTTP is parsed by llhttp (httptools, Node's parser): strict about what proxies disagree on
(two Content-Length headers, ``+N``, ``1_0``, Content-Length with chunked encoding are errors).
On top of it this module bounds what a client can hold: the whole request must arrive within
SAGEMAKER_MODEL_SERVER_TIMEOUT (408 otherwise), heads are capped (431, 414), an idle keep-alive
connection closes after SERVING_KEEPALIVE_S, and at SERVING_MAX_CONNECTIONS the worker stops
accepting (the kernel queues the rest for the other workers). Bodies over the payload limit get
413 as soon as the head is read (before ``100 Continue``); a body shorter than its Content-Length
gets 400, never a prediction. Every error answer is one line of plain text.

The model is loaded before the worker accepts anything. On SIGTERM the worker stops accepting,
closes idle connections, lets in-flight requests finish (answered with ``Connection: close``)
for up to SERVING_GRACE_S, then exits.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from http import HTTPStatus

import httptools

from serving_app import App, Response, text
from serving_config import Settings

log = logging.getLogger("serve")
MAX_HEAD_BYTES = 64 * 1024
MAX_TARGET_BYTES = 16 * 1024
_DRAIN_LIMIT = 64 * 1024 * 1024  # discard an oversized body up to this to keep the connection
_ACCEPTS_PER_WAKE = 16  # then let the other workers take their share of the backlog
_PHRASES = {s.value: s.phrase for s in HTTPStatus}


class _Refuse(Exception):
    """Raised inside a parser callback: answer ``response`` and close the connection."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


class Connection(asyncio.Protocol):
    """One client connection: parse, answer in order, enforce the limits above."""

    def __init__(self, worker: "Worker"):
        self.worker = worker
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.busy = False          # a request has begun and is not answered yet
        self.closing = False
        self.started = 0.0         # when the current request began
        self.idle_since = time.monotonic()
        self._reset()

    def _reset(self) -> None:
        self.target, self.headers, self.body = b"", {}, []
        self.head_bytes, self.header_bytes, self.body_bytes, self.expected = 0, 0, 0, None
        self.head_done, self.discard = False, None

    # ---- asyncio ----
    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:  # one write per response, no Nagle delay behind a delayed ACK
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if not self.head_done:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            refused = error.__context__
            if not isinstance(refused, _Refuse):
                raise
            self._finish(refused.response, keep_alive=False)
        except httptools.HttpParserInvalidMethodError:
            self._finish(text(501, "method not implemented"), keep_alive=False)
        except httptools.HttpParserError as error:
            reason = str(error) or "malformed request"
            self._finish(text(400, f"bad request: {reason}"), keep_alive=False)
        else:
            if not self.head_done and self.head_bytes > MAX_HEAD_BYTES:
                self._finish(text(431, f"request head over {MAX_HEAD_BYTES} bytes"), keep_alive=False)

    def eof_received(self) -> bool:
        if self.discard is not None:  # the 413 went out already
            pass
        elif self.busy and self.head_done and self.expected is not None:
            self._finish(text(400, f"body ended after {self.body_bytes} of {self.expected} bytes "
                                   "(Content-Length)"), keep_alive=False)
        elif self.busy:
            self._finish(text(400, "request ended before it was complete"), keep_alive=False)
        return False  # close our side too

    def connection_lost(self, exc) -> None:
        self.worker.forget(self)
        if exc is not None and self.busy:
            log.info("client went away mid-request: %s", type(exc).__name__)

    # ---- httptools callbacks ----
    def on_message_begin(self) -> None:
        self.busy, self.started = True, time.monotonic()

    def on_url(self, url: bytes) -> None:
        self.target += url
        if len(self.target) > MAX_TARGET_BYTES:
            raise _Refuse(text(414, f"request target over {MAX_TARGET_BYTES} bytes"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value.strip()
        self.header_bytes += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        self.head_done = True
        if self.header_bytes > MAX_HEAD_BYTES:  # the whole head may have come in one read
            raise _Refuse(text(431, f"request head over {MAX_HEAD_BYTES} bytes"))
        length = self.headers.get(b"content-length")
        self.expected = int(length) if length is not None else None  # llhttp checked the digits
        limit = self.worker.settings.max_payload_bytes
        if self.expected is not None and self.expected > limit:
            self._refuse_oversized(self.expected)
        elif self.headers.get(b"expect", b"").lower() == b"100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, chunk: bytes) -> None:
        self.body_bytes += len(chunk)
        if self.discard is not None:
            if self.body_bytes > _DRAIN_LIMIT:
                raise _Refuse(self.discard)
            return
        if self.body_bytes > self.worker.settings.max_payload_bytes:  # chunked: no length upfront
            self._refuse_oversized(self.body_bytes)
            return
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        if self.discard is not None:  # the 413 went out already; the connection is reusable
            self.busy = False
            self._reset()
            self.idle_since = time.monotonic()
            if self.closing or not self.parser.should_keep_alive():
                self.closing = True
                self.transport.close()
            return
        method = self.parser.get_method()
        response = self.worker.app.handle(method, self.target, self.headers, b"".join(self.body))
        self._finish(response, keep_alive=self.parser.should_keep_alive(),
                     head_only=method == b"HEAD")

    # ---- answers ----
    def _refuse_oversized(self, size: int) -> None:
        limit_mb = self.worker.settings.max_payload_bytes / (1024 * 1024)
        response = text(413, f"payload of {size} bytes exceeds {limit_mb:g} MB "
                             "(SAGEMAKER_MAX_PAYLOAD_IN_MB)")
        if self.headers.get(b"expect", b"").lower() == b"100-continue" or \
                (self.expected or 0) > _DRAIN_LIMIT:
            raise _Refuse(response)  # the client has not sent the body (or too much): close
        self._write(response, keep_alive=True)
        self.discard = response

    def _finish(self, response: Response, *, keep_alive: bool, head_only: bool = False) -> None:
        keep_alive = keep_alive and not self.closing
        self._write(response, keep_alive=keep_alive, head_only=head_only)
        self.busy = False
        self._reset()
        self.idle_since = time.monotonic()
        if not keep_alive:
            self.closing = True
            self.transport.close()

    def _write(self, response: Response, *, keep_alive: bool, head_only: bool = False) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        status = response.status
        head = [f"HTTP/1.1 {status} {_PHRASES.get(status, '')}"]
        if status != 204:
            head.append(f"Content-Type: {response.content_type}\r\n"
                        f"Content-Length: {len(response.body)}")
        head.extend(f"{name}: {value}" for name, value in response.headers)
        if not keep_alive:
            head.append("Connection: close")
        body = b"" if head_only or status == 204 else response.body
        self.transport.write("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + body)

    def sweep(self, now: float) -> None:
        """Called every second: enforce the request read bound and the keep-alive idle bound."""
        settings = self.worker.settings
        if self.busy and now - self.started > settings.timeout_s:
            log.info("request not complete within %g s; closing", settings.timeout_s)
            self._finish(text(408, f"request not received within {settings.timeout_s:g} s "
                                   "(SAGEMAKER_MODEL_SERVER_TIMEOUT)"), keep_alive=False)
        elif not self.busy and (self.closing or now - self.idle_since > settings.keepalive_s):
            self.closing = True
            self.transport.close()


class Worker:
    """Accepts from the shared listener (bounded), sweeps timeouts, drains on SIGTERM."""

    def __init__(self, listener: socket.socket, settings: Settings, app: App):
        self.listener, self.settings, self.app = listener, settings, app
        self.connections: set[Connection] = set()
        self.loop = asyncio.get_event_loop()
        self.accepting = False
        self.draining = False
        self.done = self.loop.create_future()

    def start(self) -> None:
        self.listener.setblocking(False)
        self._accept_on()
        self.loop.add_signal_handler(signal.SIGTERM, self.drain)
        self.loop.call_later(1.0, self._sweep)

    def _accept_on(self) -> None:
        if not self.accepting and not self.draining:
            self.loop.add_reader(self.listener.fileno(), self._accept)
            self.accepting = True

    def _accept_off(self) -> None:
        if self.accepting:
            self.loop.remove_reader(self.listener.fileno())
            self.accepting = False

    def _accept(self) -> None:
        for _ in range(_ACCEPTS_PER_WAKE):
            if len(self.connections) >= self.settings.max_connections:
                self._accept_off()  # the rest wait in the kernel's queue for another worker
                return
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # e.g. EMFILE: back off instead of spinning
                log.warning("accept failed: %s", error)
                return
            connection = Connection(self)
            self.connections.add(connection)
            self.loop.create_task(self.loop.connect_accepted_socket(lambda c=connection: c, sock))

    def forget(self, connection: Connection) -> None:
        self.connections.discard(connection)
        if self.draining and not self.connections and not self.done.done():
            self.done.set_result(None)
        elif len(self.connections) < self.settings.max_connections:
            self._accept_on()

    def _sweep(self) -> None:
        now = time.monotonic()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.sweep(now)
        self.loop.call_later(1.0, self._sweep)

    def drain(self) -> None:
        """SIGTERM: stop accepting, close idle connections, let in-flight requests finish."""
        if self.draining:
            return
        log.info("SIGTERM: draining %d connections (grace %g s)", len(self.connections),
                 self.settings.grace_s)
        self._accept_off()
        self.draining = True
        for connection in list(self.connections):
            connection.closing = True
            if not connection.busy and connection.transport is not None:
                connection.transport.close()
        if not self.connections:
            self.done.set_result(None)
        self.loop.call_later(self.settings.grace_s, self._give_up)

    def _give_up(self) -> None:
        if not self.done.done():
            log.warning("grace period over with %d requests in flight", len(self.connections))
            self.done.set_result(None)


def serve_worker(listener: socket.socket, settings: Settings) -> None:
    """Run one worker: load the model first, then accept until SIGTERM has drained it."""
    try:
        import uvloop  # optional: a faster event loop where the wheel is installed
        asyncio.set_event_loop(uvloop.new_event_loop())
    except ImportError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    app = App(settings)
    app.load()
    worker = Worker(listener, settings, app)
    worker.start()
    worker.loop.run_until_complete(worker.done)
