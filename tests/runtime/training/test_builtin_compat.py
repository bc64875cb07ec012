"""A user of the built-in XGBoost algorithm moves to train.py: their jobs, data and tuning run unchanged.

Each test runs the real train.py in its own process on a SageMaker-shaped job root.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn import metrics as skm

import metric_definitions
from model_artifacts import read_metadata
from training_testkit import breast_cancer, channel, job_root, run_train, write_csv

BASE = {"objective": "binary:logistic", "num_round": "8", "max_depth": "3"}


def _raw_root(tmp_path, hp: dict, content_types: dict | None = None):
    """A job root whose hyperparameters.json holds raw strings, as the built-in's jobs send them."""
    root = job_root(tmp_path / "job", {}, content_types)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hp))
    return root


def _csv_channels(root, sep=",", header=False):
    x, y = breast_cancer()
    for name, rows in (("train", slice(0, 450)), ("validation", slice(450, None))):
        frame = pd.DataFrame(np.column_stack([y[rows], x[rows]]), columns=["target"] + [f"f{i}" for i in range(30)])
        path = channel(root, name) / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, sep=sep, header=header, index=False)
    return x, y


def _ok(root):
    result = run_train(root)
    assert result.returncode == 0, result.stderr
    return result


def _reading(stdout: str, name: str) -> list[float]:
    regex = {d["Name"]: d["Regex"] for d in metric_definitions.build()}[name]
    return [float(v) for v in re.findall(regex, stdout)]


def test_tuning_objective_accuracy_without_eval_metric_is_printed_and_caught(tmp_path):
    # GIVEN a tuning trial on validation:accuracy with no eval_metric (raw string values)
    root = _raw_root(tmp_path, {**BASE, "_tuning_objective_metric": "validation:accuracy"}, {"train": "csv",
                                                                                            "validation": "csv"})
    x, y = _csv_channels(root)
    # WHEN it trains
    result = _ok(root)
    # THEN every round prints validation-accuracy in xgboost's form and our regex reads all 8 readings
    readings = _reading(result.stdout, "validation:accuracy")
    assert len(readings) == 8
    # AND the last reading is the final model's accuracy on the validation rows
    booster = xgb.Booster()
    booster.load_model(bytearray((root / "model" / "xgboost-model").read_bytes()))
    expected = skm.accuracy_score(y[450:], booster.predict(xgb.DMatrix(x[450:])) > 0.5)
    assert readings[-1] == pytest.approx(expected, abs=1e-5)
    assert read_metadata(root / "model")["metrics"]["validation"]["accuracy"] == pytest.approx(expected)


def test_extra_metrics_per_round_equal_scikit_learn_on_the_final_model(tmp_path):
    hp = {**BASE, "eval_metric": "accuracy,f1,f1_binary,precision,recall,balanced_accuracy,auc"}
    root = _raw_root(tmp_path, hp, {"train": "text/csv", "validation": "text/csv"})
    x, y = _csv_channels(root)
    result = _ok(root)
    booster = xgb.Booster()
    booster.load_model(bytearray((root / "model" / "xgboost-model").read_bytes()))
    label = (booster.predict(xgb.DMatrix(x[450:])) > 0.5).astype(int)
    for name, fn in (("f1", lambda a, b: skm.f1_score(a, b, average="macro")), ("f1_binary", skm.f1_score),
                     ("precision", skm.precision_score), ("recall", skm.recall_score),
                     ("balanced_accuracy", skm.balanced_accuracy_score)):
        assert _reading(result.stdout, f"validation:{name}")[-1] == pytest.approx(fn(y[450:], label), abs=1e-5)
    assert len(_reading(result.stdout, "validation:auc")) == 8


def test_regression_mse_r2_and_the_aliases(tmp_path):
    hp = {"objective": "reg:linear", "num_round": "6", "eval_metric": "mse,r2,rmse", "learning_rate": "0.3",
          "reg_lambda": "2", "reg_alpha": "0.1", "min_split_loss": "0"}
    root = _raw_root(tmp_path, hp, {"train": "csv", "validation": "csv"})
    _csv_channels(root)
    result = _ok(root)
    meta = read_metadata(root / "model")
    assert meta["objective"] == "reg:squarederror"  # reg:linear is the old name
    assert meta["hyperparameters"]["eta"] == 0.3 and meta["hyperparameters"]["lambda"] == 2.0
    mse, rmse = meta["metrics"]["validation"]["mse"], meta["metrics"]["validation"]["rmse"]
    assert mse == pytest.approx(rmse ** 2, rel=1e-4)
    assert len(_reading(result.stdout, "validation:r2")) == 6


@pytest.mark.parametrize("extra", [
    {"booster": "dart", "rate_drop": "0.1", "skip_drop": "0.5", "sample_type": "weighted", "normalize_type": "forest"},
    {"booster": "gblinear", "updater": "coord_descent"},
    {"tree_method": "exact", "monotone_constraints": "(1,0,0)"},
    {"tree_method": "approx", "sketch_eps": "0.03", "interaction_constraints": "[[0,1],[2,3,4]]"},
    {"num_parallel_tree": "3", "subsample": "0.8", "colsample_bynode": "0.8"},
    {"objective": "survival:cox", "eval_metric": "cox-nloglik"},
    {"save_model_on_termination": "true", "deterministic_histogram": "true", "predictor": "cpu_predictor"},
])
def test_hyperparameters_the_builtin_accepts_train(tmp_path, extra):
    root = _raw_root(tmp_path, {**BASE, **extra}, {"train": "csv", "validation": "csv"})
    _csv_channels(root)
    _ok(root)
    assert (root / "model" / "xgboost-model").is_file()


@pytest.mark.parametrize("extra,reason", [
    ({"objective": "reg:tweedie", "tweedie_variance_power": "2.5"}, "tweedie_variance_power=2.5 must be in (1, 2)"),
    ({"monotone_constraints": "(2,0)"}, "monotone_constraints"),
    ({"booster": "gblinear", "updater": "grow_colmaker"}, "updater for gblinear"),
    ({"learning_rate": "0.1", "eta": "0.2"}, "are the same setting"),
])
def test_values_the_builtin_rejects_are_user_errors(tmp_path, extra, reason):
    root = _raw_root(tmp_path, {**BASE, **extra}, {"train": "csv"})
    _csv_channels(root)
    result = run_train(root)
    assert result.returncode == 1, result.stderr
    assert reason in (root / "output" / "failure").read_text()


@pytest.mark.parametrize("sep", ["\t", ";"])
def test_tab_and_semicolon_csv_train_like_comma_csv(tmp_path, sep):
    root = _raw_root(tmp_path / sep.strip() if sep.strip() else tmp_path / "tab", BASE,
                     {"train": "text/csv", "validation": "text/csv"})
    _csv_channels(root, sep=sep)
    comma = _raw_root(tmp_path / "comma", BASE, {"train": "text/csv", "validation": "text/csv"})
    _csv_channels(comma)
    _ok(root)
    _ok(comma)
    assert (read_metadata(root / "model")["metrics"] == read_metadata(comma / "model")["metrics"])


def test_header_row_is_skipped_with_a_warning_that_names_it(tmp_path):
    # GIVEN DataFrame.to_csv(index=False) output: a header row first
    root = _raw_root(tmp_path / "h", BASE, {"train": "csv", "validation": "csv"})
    _csv_channels(root, header=True)
    plain = _raw_root(tmp_path / "p", BASE, {"train": "csv", "validation": "csv"})
    _csv_channels(plain)
    # WHEN it trains THEN it warns, naming the header, and learns what the headerless file teaches
    result = _ok(root)
    assert "train.csv: line 1 ('target,f0,f1" in result.stderr and "is a header row" in result.stderr
    assert "header=False" in result.stderr
    _ok(plain)
    meta, expected = read_metadata(root / "model"), read_metadata(plain / "model")
    assert meta["metrics"] == expected["metrics"] and meta["feature_count"] == 30


def test_no_content_type_and_no_extension_is_libsvm_and_csv_there_is_told_apart(tmp_path):
    x, y = breast_cancer()
    root = _raw_root(tmp_path / "svm", BASE)
    lines = [f"{label:g} " + " ".join(f"{j}:{v:.9g}" for j, v in enumerate(row)) for label, row in zip(y, x, strict=True)]
    (channel(root, "train")).mkdir(parents=True)
    (channel(root, "train") / "part-0000").write_text("\n".join(lines) + "\n")
    _ok(root)
    assert read_metadata(root / "model")["feature_count"] == 30
    csv_root = _raw_root(tmp_path / "csv", BASE)
    write_csv(channel(csv_root, "train") / "part-0000", x, y)
    result = run_train(csv_root)
    assert result.returncode == 1
    failure = (csv_root / "output" / "failure").read_text()
    assert "is not libsvm" in failure and "set the channel's ContentType to text/csv" in failure


def test_pandas_index_column_in_parquet_is_dropped(tmp_path):
    x, y = breast_cancer()
    frame = pd.DataFrame(np.column_stack([y, x]), columns=["target"] + [f"f{i}" for i in range(30)])
    frame.index = pd.RangeIndex(1000, 1000 + len(frame), name="row_id") * 7  # a named, non-range index
    root = _raw_root(tmp_path, BASE, {"train": "application/x-parquet"})
    channel(root, "train").mkdir(parents=True)
    frame.to_parquet(channel(root, "train") / "data.parquet", index=True)
    result = _ok(root)
    assert "dropping pandas index column(s) row_id" in result.stderr
    assert read_metadata(root / "model")["feature_count"] == 30


def test_early_stopping_without_validation_warns_and_trains(tmp_path):
    root = _raw_root(tmp_path, {**BASE, "early_stopping_rounds": "3"}, {"train": "csv"})
    x, y = breast_cancer()
    write_csv(channel(root, "train") / "train.csv", x, y)
    result = _ok(root)
    assert "no validation channel: training all num_round rounds" in result.stderr
    assert read_metadata(root / "model")["num_boosted_rounds"] == 8
