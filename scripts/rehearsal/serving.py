"""Serve a model container as SageMaker hosting would start it, and talk to it over HTTP.

The model archive is extracted to /opt/ml/model; the code comes from where the container's
environment says (`SAGEMAKER_SUBMIT_DIRECTORY`: a folder inside the model, or an archive in S3,
which a network-isolated model could not download); `serve.py` starts with exactly that
environment plus the port SageMaker would give it.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import tarfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from rehearsal.pipeline_steps import Execution, StepFailed
from rehearsal.sandbox import popen_in_job


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _code_dir(ex: Execution, job: Path, environment: dict[str, str]) -> str:
    submit = environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "/opt/ml/model/code")
    if submit.startswith("s3://"):
        # The AWS framework container downloads this archive at start; note it for the report.
        ex.report.setdefault("serving_warnings", []).append(
            f"SAGEMAKER_SUBMIT_DIRECTORY is {submit}: the container downloads code at start, which fails "
            "under network isolation and depends on the CDK assets bucket")
        with tarfile.open(ex.s3.path(submit)) as tar:
            tar.extractall(job / "code", filter="data")
        return "/opt/ml/code"
    if not (job / submit.removeprefix("/opt/ml/")).is_dir():
        raise StepFailed(f"SAGEMAKER_SUBMIT_DIRECTORY {submit} does not exist inside the container")
    return submit


@contextmanager
def model_server(ex: Execution, name: str, container: dict, extra_env: dict[str, str] | None = None) -> Iterator[int]:
    """Start the container's server; yields its port once /ping answers 200."""
    job = ex.job_root(name)
    model_dir = job / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(ex.s3.path(container["ModelDataUrl"])) as tar:
        tar.extractall(model_dir, filter="data")
    environment = dict(container.get("Environment", {}))
    code = _code_dir(ex, job, environment)
    port = _free_port()
    env = dict(ex.base_env(), **environment, **(extra_env or {}), SAGEMAKER_BIND_TO_HOST="127.0.0.1",
               SAGEMAKER_BIND_TO_PORT=str(port), PYTHONPATH=code)
    process = popen_in_job(job, ["python3", f"{code}/serve.py", "serve", "--workers", "1"], env=env,
                           network_isolated=False, log=ex.root / "logs" / f"{name}.log")
    try:
        deadline = time.monotonic() + 60
        while request(port, "GET", "/ping")[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise StepFailed(f"{name}: the server never answered /ping 200; see {ex.root / 'logs' / (name + '.log')}")
            time.sleep(0.25)
        yield port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except Exception:  # noqa: BLE001 - a server that ignores SIGTERM is killed
                os.killpg(process.pid, signal.SIGKILL)


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
            ) -> tuple[int, str, bytes]:
    """One HTTP request to 127.0.0.1:port; (0, '', b'') when nothing listens yet."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    except OSError:
        return 0, "", b""
