"""GIVEN a SageMaker-shaped job root WHEN train.py runs THEN the model, metadata and metric lines are right."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import xgboost as xgb

from model_artifacts import read_metadata
from training_testkit import (CODE, breast_cancer, channel, job_root, run_train, synthetic, validation_auc,
                              write_csv, write_libsvm, write_parquet)

HP = {"objective": "binary:logistic", "eval_metric": "error,auc", "num_round": 40, "max_depth": 3, "eta": 0.2}


def _split_root(tmp_path, writer, ext, content_type=None, hp=HP, files=2):
    x, y = breast_cancer()
    root = job_root(tmp_path / "job", hp, {"train": content_type, "validation": content_type} if content_type else None)
    for i, part in enumerate(np.array_split(np.arange(450), files)):
        writer(channel(root, "train") / f"part-{i}.{ext}", x[part], y[part])
    writer(channel(root, "validation") / f"valid.{ext}", x[450:], y[450:])
    return root


@pytest.fixture(scope="module")
def csv_job(tmp_path_factory):
    """One CSV training run shared by the tests that only inspect its outputs."""
    root = _split_root(tmp_path_factory.mktemp("csv"), write_csv, "csv", "text/csv")
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    return root, result


def test_csv_job_writes_loadable_model_metadata_and_importance(csv_job):
    root, _ = csv_job
    booster = xgb.Booster()
    booster.load_model(str(root / "model" / "xgboost-model"))
    assert (root / "model" / "xgboost-model").read_bytes()[:1] == b"{"  # UBJSON object marker
    x, y = breast_cancer()
    pred = booster.predict(xgb.DMatrix(x[450:]))
    assert np.mean((pred > 0.5) == y[450:]) > 0.9
    meta = read_metadata(root / "model")
    assert meta["feature_count"] == 30 and meta["objective"] == "binary:logistic"
    assert meta["xgboost_version"] == xgb.__version__ and meta["num_boosted_rounds"] == 40
    assert meta["eval_metric"] == "auc" and meta["metrics"]["validation"]["auc"] > 0.95
    importance = json.loads((root / "model" / "metadata" / "feature-importance.json").read_text())
    assert set(importance) == {"gain", "weight"} and importance["gain"]
    assert not (root / "output" / "failure").exists()


def test_metric_lines_match_the_tuning_regexes(csv_job):
    root, result = csv_job
    definitions = json.loads((CODE / "metric_definitions.json").read_text())
    found = {}
    for d in definitions:
        values = re.findall(d["Regex"], result.stdout)
        if values:
            found[d["Name"]] = [float(v) for v in values]
    assert set(found) == {"train:error", "train:auc", "validation:error", "validation:auc"}
    assert len(found["validation:auc"]) == 40
    meta = read_metadata(root / "model")
    assert found["validation:auc"][-1] == pytest.approx(meta["metrics"]["validation"]["auc"], abs=1e-6)


@pytest.mark.parametrize("writer,ext,content_type", [
    (write_parquet, "parquet", "application/x-parquet"),
    (write_libsvm, "libsvm", "text/libsvm"),
    (write_parquet, "parquet", None),  # no declared type: the file extension decides
])
def test_parquet_and_libsvm_train_as_well_as_csv(tmp_path, csv_job, writer, ext, content_type):
    other = _split_root(tmp_path / ext, writer, ext, content_type)
    result = run_train(other)
    assert result.returncode == 0, result.stderr
    assert validation_auc(other) == pytest.approx(validation_auc(csv_job[0]), abs=0.01)


def test_streaming_without_cache_gives_the_same_model(tmp_path, csv_job):
    streamed = _split_root(tmp_path / "streamed", write_csv, "csv", hp=HP | {"data_cache_mb": 0})
    result = run_train(streamed)
    assert result.returncode == 0, result.stderr
    assert validation_auc(streamed) == validation_auc(csv_job[0])


def test_early_stopping_keeps_only_the_best_trees(tmp_path):
    x, y = synthetic(3000, seed=3)
    hp = {"objective": "binary:logistic", "eval_metric": "logloss", "num_round": 500, "eta": 0.5,
          "max_depth": 6, "early_stopping_rounds": 5}
    root = job_root(tmp_path / "job", hp)
    write_csv(channel(root, "train") / "train.csv", x[:2000], y[:2000])
    write_csv(channel(root, "validation") / "valid.csv", x[2000:], y[2000:])
    write_csv(channel(root, "test") / "test.csv", x[2000:], y[2000:])
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    meta = read_metadata(root / "model")
    assert meta["best_iteration"] < 100
    assert meta["num_boosted_rounds"] == meta["best_iteration"] + 1
    assert "test:logloss=" in result.stdout
    assert meta["metrics"]["test"]["logloss"] == pytest.approx(meta["metrics"]["validation"]["logloss"])


def test_script_mode_cli_pairs_and_sm_env_are_honoured(tmp_path):
    x, y = breast_cancer()
    root = job_root(tmp_path / "job", {})
    train_dir = write_csv(tmp_path / "elsewhere" / "train" / "data", x[:450], y[:450]).parent
    write_csv(channel(root, "validation") / "v.csv", x[450:], y[450:])
    env = {"SM_CHANNEL_TRAIN": str(train_dir), "SM_CHANNEL_TRAIN_CONTENT_TYPE": "text/csv",
           "SM_HPS": json.dumps({"objective": "binary:logistic", "num_round": 5}),
           "SM_MODEL_DIR": str(tmp_path / "model-out")}
    result = run_train(root, "--num_round", "7", "--eval_metric", "auc", env=env)
    assert result.returncode == 0, result.stderr
    meta = read_metadata(tmp_path / "model-out")
    assert meta["num_boosted_rounds"] == 7 and meta["objective"] == "binary:logistic"


def test_sampled_sketch_stays_close_to_the_exact_one(tmp_path, csv_job):
    sampled = _split_root(tmp_path / "sampled", write_csv, "csv", hp=HP | {"sketch_sample_ratio": 0.25})
    result = run_train(sampled)
    assert result.returncode == 0, result.stderr
    assert validation_auc(sampled) == pytest.approx(validation_auc(csv_job[0]), abs=0.01)
