"""GIVEN the real server on 127.0.0.1 WHEN clients and operators misbehave as they do in production
(raw sockets, slow and truncated bodies, smuggling-shaped headers, SIGTERM under load, kill -9)
THEN it never drops or invents an answer: each case gets the answer the HTTP contract asks for."""
from __future__ import annotations

import signal
import socket
import struct
import threading
import time

import psutil
import pytest
from serving_testkit import N_FEATURES, RunningServer

ROW = (",".join(["0.5"] * N_FEATURES) + "\n").encode()


def connect(server, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (or the socket times out)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (socket.timeout, ConnectionResetError):
        pass
    return b"".join(chunks)


def read_response(sock: socket.socket) -> bytes:
    """One response on a keep-alive connection: head plus Content-Length bytes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        rest += sock.recv(65536)
    return head + b"\r\n\r\n" + rest


def request(body: bytes = ROW, *, extra: str = "", length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (f"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {size}\r\n{extra}\r\n").encode() + body


def workers_of(server) -> list[int]:
    return [child.pid for child in psutil.Process(server.process.pid).children()]


@pytest.fixture
def fresh(model_root):
    """A server of its own (one worker) for tests that signal, kill or exhaust it."""
    started = []

    def start(workers: int = 1, **env) -> RunningServer:
        running = RunningServer(model_root, env={k: str(v) for k, v in env.items()}, workers=workers)
        started.append(running)
        running.wait_until(200, in_a_row=3)
        return running

    yield start
    for running in started:
        if not running.process.stderr.closed:
            running.stop()


def test_sigterm_finishes_in_flight_requests_and_closes_idle_ones(fresh):
    # GIVEN requests half sent on four connections and two idle keep-alive connections
    server = fresh(workers=2, SERVING_GRACE_S=20)
    body = ROW * 2000
    in_flight = [connect(server) for _ in range(4)]
    for sock in in_flight:
        sock.sendall(request(body)[: len(body) // 2])
    idle = [connect(server) for _ in range(2)]
    for sock in idle:
        sock.sendall(request())
        assert read_response(sock).startswith(b"HTTP/1.1 200")
    time.sleep(0.3)
    # WHEN the platform sends SIGTERM, and the clients then finish sending
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    for sock in in_flight:
        sock.sendall(request(body)[len(body) // 2:])
    # THEN every in-flight request is answered, with Connection: close
    for sock in in_flight:
        answer = read_all(sock)
        assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close" in answer
        assert answer.count(b",") == 2000 - 1  # every prediction, none invented or lost
    # AND the idle connections were closed, and the server exits 0
    assert all(read_all(sock) == b"" for sock in idle)
    assert server.process.wait(timeout=15) == 0


def test_sigterm_drain_is_bounded_by_the_grace_period(fresh):
    server = fresh(SERVING_GRACE_S=1, SAGEMAKER_MODEL_SERVER_TIMEOUT=60)
    stalled = connect(server)
    stalled.sendall(request(length=1000)[:-len(ROW)])  # a body that will never come
    time.sleep(0.3)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=15) == 0
    assert time.monotonic() - started < 8


def test_a_replacement_worker_loads_its_model_before_it_accepts(fresh):
    # GIVEN a server whose worker is killed with SIGKILL
    server = fresh(workers=2)
    victim = workers_of(server)[0]
    psutil.Process(victim).kill()
    # WHEN clients keep calling while the replacement starts
    statuses = []
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        statuses.append(server.post(ROW)[0])
        statuses.append(server.get("/ping")[0])
    # THEN no request ever met a worker without a model, and the replacement joined
    assert set(statuses) == {200}, sorted(set(statuses))
    assert len(workers_of(server)) == 2 and victim not in workers_of(server)


def test_after_repeated_crashes_the_parent_exits_non_zero(fresh):
    server = fresh(workers=1)
    for _ in range(6):  # more than 5 crashes per worker within a minute
        deadline = time.monotonic() + 20
        while not (pids := workers_of(server)) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not pids:
            break
        psutil.Process(pids[0]).kill()
        while pids[0] in workers_of(server):
            time.sleep(0.02)
    assert server.process.wait(timeout=30) == 1


def test_a_truncated_body_is_a_400_never_a_prediction(server):
    sock = connect(server)
    sock.sendall(request(ROW * 3)[: -len(ROW)])  # Content-Length for 3 rows, 2 sent
    sock.shutdown(socket.SHUT_WR)
    answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400") and b"body ended after" in answer


def test_the_whole_request_read_is_bounded(fresh):
    # GIVEN a client that sends one byte at a time, slower than the read bound allows
    server = fresh(SAGEMAKER_MODEL_SERVER_TIMEOUT=2)
    sock = connect(server, timeout=10)
    started = time.monotonic()
    payload = request()
    try:
        for byte in payload:
            sock.send(bytes([byte]))
            time.sleep(0.25)
    except (BrokenPipeError, ConnectionResetError):
        pass
    # THEN it gets 408 once the bound passes, and the connection is closed
    answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408") and b"SAGEMAKER_MODEL_SERVER_TIMEOUT" in answer
    assert time.monotonic() - started < 6


def test_connections_per_worker_are_capped_and_the_rest_wait(fresh):
    server = fresh(SERVING_MAX_CONNECTIONS=3)
    held = [connect(server) for _ in range(3)]
    for sock in held:
        sock.sendall(request())
        assert read_response(sock).startswith(b"HTTP/1.1 200")
    waiting = connect(server, timeout=1.5)
    waiting.sendall(request())
    with pytest.raises(socket.timeout):  # queued in the kernel: not accepted past the cap
        waiting.recv(100)
    held[0].close()
    waiting.settimeout(10)
    assert read_response(waiting).startswith(b"HTTP/1.1 200")


def test_idle_keep_alive_connections_are_closed(fresh):
    server = fresh(SERVING_KEEPALIVE_S=1)
    sock = connect(server)
    sock.sendall(request())
    assert read_response(sock).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    assert read_all(sock) == b"" and time.monotonic() - started < 5


@pytest.mark.parametrize("headers", [
    "Content-Length: 5\r\nContent-Length: 6\r\n",
    "Content-Length: 5\r\nContent-Length: 5\r\n",
    "Content-Length: +5\r\n",
    "Content-Length: 1_0\r\n",
    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
], ids=["two-lengths", "repeated-length", "plus-sign", "underscore", "length-and-chunked"])
def test_ambiguous_content_length_is_refused(server, headers):
    sock = connect(server)
    sock.sendall(f"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\n"
                 f"{headers}\r\n1,2,3".encode())
    answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400") and b"Connection: close" in answer
    assert answer.split(b"\r\n\r\n", 1)[1].count(b"\n") == 1  # one line of text


def test_expect_100_continue_with_an_oversized_length_gets_413_at_once(server):
    sock = connect(server, timeout=5)
    sock.sendall(request(b"", extra="Expect: 100-continue\r\n", length=10 * 1024 * 1024))
    answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer


def test_expect_100_continue_within_the_limit_gets_100_then_the_answer(server):
    sock = connect(server)
    sock.sendall(request(b"", extra="Expect: 100-continue\r\n", length=len(ROW)))
    assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
    sock.sendall(ROW)
    assert read_response(sock).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(("raw", "status"), [
    (b"GET /ping HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", b"431"),
    (b"GET /" + b"p" * 20_000 + b" HTTP/1.1\r\n\r\n", b"414"),
    (b"BREW /ping HTTP/1.1\r\nHost: t\r\n\r\n", b"501"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b"501"),  # TLS to a plain port
    (b"GET /ping HTTP/1.1\r\nBad Header\r\n\r\n", b"400"),
], ids=["huge-header", "long-target", "unknown-method", "tls-hello", "malformed-header"])
def test_protocol_errors_are_one_line_text(server, raw, status):
    sock = connect(server)
    sock.sendall(raw)
    answer = read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status), head[:200]
    assert b"text/plain" in head and body.count(b"\n") == 1 and b"<" not in body


def test_client_resets_log_one_line_and_the_server_keeps_serving(fresh):
    server = fresh()
    for _ in range(5):
        sock = connect(server)
        sock.sendall(request(ROW * 10)[:-5])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST mid-request
    assert server.post(ROW)[0] == 200
    server.stop()
    assert b"Traceback" not in server.log and b"client went away" in server.log


def test_concurrent_clients_all_get_their_own_answers(server):
    results = []

    def client(index: int) -> None:
        body = ",".join([str(index)] * N_FEATURES).encode()
        results.append((index, server.post(body, accept="application/json")))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16 and all(status == 200 for _, (status, _, _) in results)
