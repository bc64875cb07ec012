"""Multi Model Server + sagemaker-inference, the AWS XGBoost container's serving stack, run locally.

Used by bench_inference (the throughput baseline) and by the script-mode tests (our inference.py
under the real toolkit). The stack's packages live in their own venv, .venv-bench-serving/,
created on first use with pinned versions, never in the project's venv. MMS needs Java.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv-bench-serving"
BASELINE_PINS = ["multi-model-server==1.1.11", "sagemaker-inference==1.10.1", "model-archiver==1.0.3",
                 "retrying==1.3.7", "xgboost-cpu==3.2.0", "numpy==2.4.6", "scipy==1.17.1",
                 "psutil==7.2.2", "six==1.17.0"]


def free_port(below: int | None = None) -> int:
    """A free 127.0.0.1 port; ``below`` for MMS, which refuses ports of 32768 and up."""
    candidates = [0] if below is None else np.random.default_rng().permutation(range(20000, below))
    for candidate in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", int(candidate)))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port")


def wait_ping(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline, streak = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and streak < 10:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as reply:
                streak = streak + 1 if reply.status == 200 else 0
        except OSError:
            streak = 0
            time.sleep(0.3)
    if streak < 10:
        raise RuntimeError("/ping never became healthy")


def baseline_python(venv: Path) -> Path:
    """The baseline's own venv with pinned packages, created on first run (never the project's)."""
    # hashlib, not hash(): str hashes change per process, and the venv would be rebuilt each run
    stamp = venv / (".installed-" + hashlib.sha256(" ".join(BASELINE_PINS).encode()).hexdigest()[:12])
    python = venv / "bin" / "python"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *BASELINE_PINS], check=True)
        stamp.touch()
    return python


def start_mms(root: Path, handler_source: str, model_dir: Path, *, workers: int | None = None,
              env: dict | None = None, venv: Path = VENV) -> tuple[dict, str]:
    """Multi Model Server + sagemaker-inference serving ``model_dir`` through ``handler_source``
    (a module with MMS's ``handle(data, context)``), one worker per CPU unless told otherwise."""
    if not shutil.which("java"):
        raise RuntimeError("java not found")
    python = baseline_python(venv)
    workers = workers or os.cpu_count()
    src, store, work = root / "mms-src", root / "mms-store", root / "mms-work"
    shutil.copytree(model_dir, src)
    for folder in (store, work):
        folder.mkdir()
    (src / "stock_service.py").write_text(handler_source)
    subprocess.run([str(venv / "bin" / "model-archiver"), "--model-name", "model", "--handler",
                    "stock_service:handle", "--model-path", str(src), "--export-path", str(store),
                    "--archive-format", "no-archive"], check=True)
    port, management = free_port(below=32768), free_port(below=32768)
    (work / "config.properties").write_text(
        f"inference_address=http://127.0.0.1:{port}\nmanagement_address=http://127.0.0.1:{management}\n"
        f"model_store={store}\nload_models=model\ndefault_workers_per_model={workers}\n"
        "max_request_size=6291456\ndefault_response_timeout=60\n")
    env = {**os.environ, "PATH": f"{python.parent}:{os.environ['PATH']}",
           "SAGEMAKER_PROGRAM": "no_user_module", "SAGEMAKER_MAX_REQUEST_SIZE": "6291456",
           "TMPDIR": str(work),  # MMS keeps a pid file in TMPDIR: a stale one makes it exit
           **(env or {})}
    process = subprocess.Popen(
        [str(venv / "bin" / "multi-model-server"), "--start", "--foreground",
         "--mms-config", str(work / "config.properties"), "--model-store", str(store)],
        cwd=work, env=env, stdout=(work / "mms.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    server = {"port": port, "process": process}
    try:
        wait_ping(port, process)
        _first_request(port)
    except Exception as error:  # noqa: BLE001 - report why, clean up, let the caller decide
        stop(server)
        tail = (work / "mms.log").read_text(errors="replace")[-1500:]
        raise RuntimeError(f"{error}; log tail: {tail}") from None
    return server, f"MMS 1.1.11 + sagemaker-inference 1.10.1, {workers} workers"


def _first_request(port: int) -> None:
    """One request, so the worker has loaded the model; any HTTP answer (a 4xx too) will do."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=b"0",
                                     method="POST", headers={"Content-Type": "text/csv"})
    try:
        urllib.request.urlopen(request, timeout=120).read()
    except urllib.error.HTTPError:
        pass


def stop(server: dict) -> None:
    """Stop a server we started, with its whole process group (MMS runs Java under Python)."""
    process = server["process"]
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
