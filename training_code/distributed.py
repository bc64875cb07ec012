"""Multi-host training with XGBoost's collective communicator.

Rank 0 (the first host in sorted order) starts a `RabitTracker`; every host, rank 0 included, joins
it through `collective.CommunicatorContext`. Inside the context QuantileDMatrix merges its quantile
sketch across hosts and each boosting round all-reduces histograms, so each host only reads its own
shard (S3DataDistributionType=ShardedByS3Key) and the result matches training on all the data.

The tracker address is the first host's name resolved by DNS (SageMaker's algo-1...), or
`XGB_TRACKER_URI` to override it; its port is `XGB_TRACKER_PORT` (default 9099).
"""
from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from typing import Iterator

from xgboost import collective
from xgboost.tracker import RabitTracker

from sm_contract import Cluster, TrainingError

DEFAULT_PORT = 9099


def _resolve(host: str, attempts: int = 30) -> str:
    # SageMaker's DNS entries for the other hosts can lag a few seconds behind the container start.
    for attempt in range(attempts):
        try:
            return socket.gethostbyname(host)
        except socket.gaierror:
            time.sleep(min(2.0, 0.1 * 2 ** attempt))
    raise TrainingError(f"cannot resolve host {host!r}")


@contextlib.contextmanager
def communicator(cluster: Cluster, env: dict | None = None, timeout_s: int = 900) -> Iterator[None]:
    """Join (and on rank 0, host) the collective for the duration of training; no-op on one host."""
    if cluster.size == 1:
        yield
        return
    env = os.environ if env is None else env
    address = env.get("XGB_TRACKER_URI") or _resolve(cluster.hosts[0])
    port = int(env.get("XGB_TRACKER_PORT") or DEFAULT_PORT)
    tracker = None
    if cluster.rank == 0:
        tracker = RabitTracker(n_workers=cluster.size, host_ip=address, port=port,
                               sortby="task", timeout=timeout_s)
        tracker.start()
    print(f"host {cluster.current_host} joining tracker {address}:{port} as rank {cluster.rank} "
          f"of {cluster.size}", file=sys.stderr, flush=True)
    args = {"dmlc_tracker_uri": address, "dmlc_tracker_port": port,
            "dmlc_task_id": str(cluster.rank), "dmlc_timeout": timeout_s, "dmlc_retry": 30}
    try:
        with collective.CommunicatorContext(**args):
            yield
    finally:
        if tracker is not None:
            tracker.wait_for(timeout_s)
