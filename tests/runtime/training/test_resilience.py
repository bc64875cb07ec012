"""Managed spot (SIGKILL, restart, resume) and multi-host training (two processes on 127.0.0.1)."""
from __future__ import annotations

import re
import signal
import socket
import subprocess

import pytest
import xgboost as xgb

from model_artifacts import read_metadata
from training_testkit import channel, job_root, run_train, synthetic, train_process, validation_auc, write_csv

HP = {"objective": "binary:logistic", "eval_metric": "auc", "num_round": 200, "max_depth": 5, "eta": 0.1,
      "checkpoint_frequency": 10}


def _root(path, hp=HP, shards=1, rank=0, hosts=None):
    x, y = synthetic(16000, seed=11)
    root = job_root(path, hp, hosts=hosts, current=(hosts or ["algo-1"])[rank])
    n_train = 12000
    rows = range(rank, n_train, shards) if shards > 1 else range(n_train)
    rows = list(rows)
    write_csv(channel(root, "train") / f"shard-{rank}.csv", x[rows], y[rows])
    write_csv(channel(root, "validation") / "valid.csv", x[n_train:], y[n_train:])
    return root


def _meta(root):
    return read_metadata(root / "model")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = _root(tmp_path_factory.mktemp("whole") / "job")
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    return root


def test_sigkill_then_restart_resumes_from_checkpoint(tmp_path, uninterrupted):
    root = _root(tmp_path / "job")
    proc = train_process(root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for line in proc.stdout:
        if line.startswith("[30]"):
            proc.send_signal(signal.SIGKILL)  # a spot interruption that gives no time to clean up
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (root / "model" / "xgboost-model").exists()
    saved = sorted(p.name for p in (root / "checkpoints").iterdir() if not p.name.startswith("."))
    assert saved and all(int(re.fullmatch(r"checkpoint-[0-9a-f]{16}-(\d+)\.ubj", n).group(1)) < 200 for n in saved)

    result = run_train(root)
    assert result.returncode == 0, result.stderr
    assert "resuming from checkpoint at round" in result.stderr
    first_round = int(result.stdout.split("]")[0].lstrip("["))
    assert first_round >= 30 and first_round % 10 == 0  # resumed at a checkpoint, not from scratch
    assert _meta(root)["num_boosted_rounds"] == _meta(uninterrupted)["num_boosted_rounds"] == 200
    assert validation_auc(root) == pytest.approx(validation_auc(uninterrupted), abs=2e-4)


def test_corrupt_latest_checkpoint_falls_back_to_the_previous(tmp_path):
    from callbacks import latest_checkpoint, save_checkpoint

    x, y = synthetic(500)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(x, label=y), 10)
    tag = "0123456789abcdef"
    save_checkpoint(booster, tmp_path, 10, tag)
    (tmp_path / f"checkpoint-{tag}-000020.ubj").write_bytes(b"{truncated")
    assert latest_checkpoint(tmp_path, tag).num_boosted_rounds() == 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_hosts_match_one_host_on_all_the_data(tmp_path, uninterrupted):
    hosts = ["algo-1", "algo-2"]
    env = {"XGB_TRACKER_URI": "127.0.0.1", "XGB_TRACKER_PORT": str(_free_port())}
    roots = [_root(tmp_path / f"host{rank}", shards=2, rank=rank, hosts=hosts) for rank in range(2)]
    procs = [train_process(root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for root in roots]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    assert "rank 1 of 2" in outputs[1][1]
    assert "6000 training rows" in outputs[0][1]  # each host read only its shard
    assert not (roots[1] / "model" / "xgboost-model").exists()  # only rank 0 writes the model
    assert _meta(roots[0])["num_boosted_rounds"] == 200
    assert validation_auc(roots[0]) == pytest.approx(validation_auc(uninterrupted), abs=0.005)
