"""Model server for SageMaker endpoints and batch transform: ``python serve.py [serve]``.

Implements the SageMaker inference container contract (GET /ping, POST /invocations on port
8080, model from /opt/ml/model). Pre-forked workers, one per CPU by default, share one listening
socket: each is a separate Python process (no shared GIL) with its own copy of the model, and a
thread per keep-alive connection. The parent only binds, forks, restarts a worker that dies, and
forwards SIGTERM; it never imports xgboost, so no OpenMP state is inherited across fork.

Settings (environment, as SageMaker passes them; flags override for local runs and tests):
  SAGEMAKER_BIND_TO_PORT (8080)              --port
  SAGEMAKER_BIND_TO_HOST (0.0.0.0)           --host
  SAGEMAKER_MODEL_SERVER_WORKERS (CPUs)      --workers
  SAGEMAKER_MODEL_SERVER_TIMEOUT (60 s)      socket timeout per request read
  SAGEMAKER_MAX_PAYLOAD_IN_MB (6)            larger bodies get 413
  SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (application/json)  for Accept */* or none
  SM_MODEL_DIR, else <root>/model, root = --root or SM_ROOT or /opt/ml
  SERVING_FAST_MAX_ROWS (measured at load)   largest batch for the array evaluator; 0 = off
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time

from serving_config import settings_from

log = logging.getLogger("serve")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="serve", choices=["serve"])
    parser.add_argument("--host", default=os.environ.get("SAGEMAKER_BIND_TO_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int,
                        default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT") or 8080))
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--root", default=None, help="contract root instead of /opt/ml")
    return parser.parse_args(argv)


def serve(argv: list[str] | None = None) -> int:
    """Bind, fork the workers, and supervise them until SIGTERM/SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = settings_from(os.environ, root=args.root, workers=args.workers)
    listener = socket.create_server((args.host, args.port), backlog=1024, reuse_port=False)
    log.info("listening on %s:%d with %d workers, model %s", args.host,
             listener.getsockname()[1], settings.workers, settings.model_dir)
    children: dict[int, int] = {}
    for slot in range(settings.workers):
        children[_spawn(listener, settings)] = slot
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True
        for pid in list(children):
            _kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    restarts: list[float] = []
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        slot = children.pop(pid, None)
        if stopping or slot is None:
            continue
        restarts = [t for t in restarts if time.monotonic() - t < 60] + [time.monotonic()]
        if len(restarts) > 5 * settings.workers:
            log.error("workers keep dying (last status %d); stopping", status)
            stop(signal.SIGTERM, None)
            continue
        log.warning("worker %d exited with status %d; starting another", pid, status)
        children[_spawn(listener, settings)] = slot
    return 0


def _spawn(listener: socket.socket, settings) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        from serving_http import serve_worker  # numpy/xgboost load after fork, in the worker

        serve_worker(listener, settings)
    except BaseException:  # noqa: BLE001 - a worker must never return into the parent's loop
        log.exception("worker crashed")
        code = 1
    finally:
        os._exit(code)


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    sys.exit(serve())
