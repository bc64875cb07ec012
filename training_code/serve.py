"""Model server for SageMaker endpoints and batch transform: ``python serve.py [serve]``.

Implements the SageMaker inference container contract (GET /ping, POST /invocations on port
8080, model from /opt/ml/model; see serving_app.py and serving_http.py). Pre-forked workers, one
per CPU by default, share one listening socket: each is a separate Python process (no shared GIL)
with its own copy of the model and its own event loop. The parent only binds, builds the compiled
evaluator once (a C compiler call, no numpy), forks, restarts a worker that dies and drains them
all on SIGTERM; it never imports numpy or xgboost, so no OpenMP state is inherited across fork.
A new or replacement worker loads its model before it accepts a connection.

Settings (environment, as SageMaker passes them; flags override for local runs and tests):
  SAGEMAKER_BIND_TO_PORT (8080)              --port
  SAGEMAKER_BIND_TO_HOST (0.0.0.0)           --host
  SAGEMAKER_MODEL_SERVER_WORKERS (CPUs)      --workers
  SAGEMAKER_MODEL_SERVER_TIMEOUT (60 s)      the whole request must arrive within this (else 408)
  SAGEMAKER_MAX_PAYLOAD_IN_MB (6)            larger bodies get 413
  SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (text/csv)  for Accept */* or none
  SAGEMAKER_INFERENCE_OUTPUT, SAGEMAKER_BATCH      response contents (serving_output.py)
  SM_MODEL_DIR, else <root>/model, root = --root or SM_ROOT or /opt/ml
  SERVING_KEEPALIVE_S (60)                   idle keep-alive connections close after this
  SERVING_MAX_CONNECTIONS (1024)             per worker
  SERVING_GRACE_S (25)                       SIGTERM: time in-flight requests get to finish
  SERVING_FAST_MAX_ROWS (measured at load)   largest batch for the small-batch evaluator; 0 = off
  SERVING_EVALUATOR (best available)         compiled | numpy | xgboost
  SERVING_NATIVE (on)                        off: never build the compiled evaluator
Exit status: 0 after SIGTERM/SIGINT, 1 when workers keep crashing (more than 5 per worker in
60 s), so the platform restarts the container instead of serving nothing.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time

import serving_native
from serving_config import settings_from

log = logging.getLogger("serve")
_CRASH_WINDOW_S = 60


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
    """Bind, fork the workers, and supervise them until SIGTERM/SIGINT (see Exit status)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = settings_from(os.environ, root=args.root, workers=args.workers)
    _, note = serving_native.try_load()  # build once here, so workers only load it
    listener = socket.create_server((args.host, args.port), backlog=1024, reuse_port=False)
    log.info("listening on %s:%d with %d workers, model %s; %s", args.host,
             listener.getsockname()[1], settings.workers, settings.model_dir, note)
    supervisor = Supervisor(listener, settings)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


class Supervisor:
    """Keeps ``settings.workers`` workers running; drains them on stop."""

    def __init__(self, listener: socket.socket, settings):
        self.listener, self.settings = listener, settings
        self.children: dict[int, int] = {}
        self.stopping = False
        self.failed = False
        self.deadline: float | None = None

    def stop(self, _signum=None, _frame=None) -> None:
        if not self.stopping:
            self.stopping = True
            self.deadline = time.monotonic() + self.settings.grace_s + 5
            for pid in list(self.children):
                _kill(pid, signal.SIGTERM)

    def run(self) -> int:
        for slot in range(self.settings.workers):
            self.children[_spawn(self.listener, self.settings)] = slot
        crashes: list[float] = []
        while self.children:
            pid, status = self._wait()
            if pid == 0:
                continue
            slot = self.children.pop(pid, None)
            if self.stopping or slot is None:
                continue
            now = time.monotonic()
            crashes = [t for t in crashes if now - t < _CRASH_WINDOW_S] + [now]
            if len(crashes) > 5 * self.settings.workers:
                log.error("workers keep dying (%d in %d s, last status %d); stopping",
                          len(crashes), _CRASH_WINDOW_S, status)
                self.failed = True
                self.stop()
                continue
            log.warning("worker %d exited with status %d; starting another", pid, status)
            self.children[_spawn(self.listener, self.settings)] = slot
        return 1 if self.failed else 0

    def _wait(self) -> tuple[int, int]:
        """Wait for a child; past the drain deadline, kill what is left."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            for pid in list(self.children):
                _kill(pid, signal.SIGKILL)
        try:
            pid, status = os.waitpid(-1, os.WNOHANG if self.stopping else 0)
        except ChildProcessError:
            self.children.clear()
            return 0, 0
        except InterruptedError:
            return 0, 0
        if pid == 0:
            time.sleep(0.05)
        return pid, status


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
        logging.shutdown()
        os._exit(code)


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    sys.exit(serve())
