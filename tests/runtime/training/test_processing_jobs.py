"""preprocess.py and evaluate.py as the pipeline's processing steps run them, plus the local rehearsal."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn import metrics as skm
from training_testkit import REPO, synthetic, write_csv

import evaluate
import preprocess
from model_metrics import binary_metrics, multiclass_metrics, regression_metrics, roc_auc


def _table(tmp_path):
    x, y = synthetic(1000, features=5, seed=5)
    frame = pd.DataFrame(x, columns=list("abcde"))
    frame["city"] = "x"  # non-numeric feature: dropped
    frame["target"] = np.where(y > 0, "yes", "no")  # string target: encoded no=0, yes=1
    (tmp_path / "in").mkdir()
    frame.to_csv(tmp_path / "in" / "data.csv", index=False)
    return frame


def test_preprocess_writes_stratified_seeded_label_first_splits(tmp_path, capsys):
    frame = _table(tmp_path)
    args = ["--input-dir", str(tmp_path / "in"), "--target-column", "target", "--seed", "3"]
    assert preprocess.main(args + ["--output-dir", str(tmp_path / "out")]) == 0
    assert "dropping non-numeric column 'city'" in capsys.readouterr().out
    parts = {n: np.loadtxt(tmp_path / "out" / n / f"{n}.csv", delimiter=",") for n in ("train", "validation", "test")}
    assert [len(p) for p in parts.values()] == [700, 150, 150]
    assert all(p.shape[1] == 6 for p in parts.values())  # label + a..e
    positive_rate = (frame["target"] == "yes").mean()
    for part in parts.values():
        assert part[:, 0].mean() == pytest.approx(positive_rate, abs=0.01)  # stratified
    rebuilt = np.vstack(list(parts.values()))
    assert sorted(map(tuple, rebuilt[:, 1:].round(6))) == sorted(map(tuple, frame[list("abcde")].to_numpy().round(6)))
    assert preprocess.main(args + ["--output-dir", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "test" / "test.csv").read_bytes() == (tmp_path / "out" / "test" / "test.csv").read_bytes()


def test_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    score = np.clip(y * 0.3 + rng.random(2000) * 0.8, 0, 1).round(2)  # ties on purpose
    assert roc_auc(y, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    report = binary_metrics(y, score)["binary_classification_metrics"]
    pred = (score >= 0.5).astype(int)
    assert report["f1"]["value"] == pytest.approx(skm.f1_score(y, pred))
    assert report["precision"]["value"] == pytest.approx(skm.precision_score(y, pred))
    assert report["recall"]["value"] == pytest.approx(skm.recall_score(y, pred))
    assert 0 < report["auc"]["standard_deviation"] < 0.05
    cm = skm.confusion_matrix(y, pred)
    assert report["confusion_matrix"]["1"]["0"] == cm[1, 0]
    labels = rng.integers(0, 3, 500)
    prob = rng.dirichlet([1, 1, 1], 500)
    multi = multiclass_metrics(labels, prob)["multiclass_classification_metrics"]
    assert multi["weighted_f1"]["value"] == pytest.approx(skm.f1_score(labels, prob.argmax(1), average="weighted"))
    reg = regression_metrics(score, score + 0.1)["regression_metrics"]
    assert reg["rmse"]["value"] == pytest.approx(0.1) and reg["r2"]["value"] == pytest.approx(skm.r2_score(score, score + 0.1))


@pytest.mark.parametrize("objective,extra,path", [
    ("binary:logistic", {}, "binary_classification_metrics.auc.value"),
    ("reg:squarederror", {}, "regression_metrics.rmse.value"),
    ("multi:softprob", {"num_class": 3}, "multiclass_classification_metrics.accuracy.value"),
])
def test_evaluate_reads_a_model_tarball_and_writes_the_registry_shape(tmp_path, objective, extra, path):
    x, y = synthetic(1500, features=5, seed=2)
    if objective.startswith("multi"):
        y = np.digitize(x[:, 0], [-0.5, 0.5]).astype(float)
    booster = xgb.train({"objective": objective, "max_depth": 3, **extra}, xgb.DMatrix(x[:1000], label=y[:1000]), 20)
    (tmp_path / "model").mkdir()
    booster.save_model(str(tmp_path / "model" / "xgboost-model"))
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "model" / "xgboost-model", arcname="xgboost-model")
    write_csv(tmp_path / "test" / "test.csv", x[1000:], y[1000:])
    assert evaluate.main(["--model-path", str(tmp_path / "model.tar.gz"), "--test-path", str(tmp_path / "test"),
                          "--output-dir", str(tmp_path / "eval")]) == 0
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert report["primary_metric"] == path
    value = report
    for key in path.split("."):
        value = value[key]
    if objective == "binary:logistic":
        assert value == pytest.approx(skm.roc_auc_score(y[1000:], booster.predict(xgb.DMatrix(x[1000:]))))
    elif objective == "reg:squarederror":
        assert value == pytest.approx(skm.mean_squared_error(y[1000:], booster.predict(xgb.DMatrix(x[1000:]))) ** 0.5, rel=1e-5)
    else:
        assert value > 0.9


def test_rehearsal_runs_preprocess_train_evaluate_end_to_end(tmp_path):
    root = tmp_path / "rehearsal"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny data: spinning OpenMP threads only cost time
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "rehearse.py"), "--root", str(root)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rehearsal metrics (test set):" in result.stdout
    report = json.loads((root / "processing" / "evaluation" / "evaluation.json").read_text())
    assert report["binary_classification_metrics"]["auc"]["value"] > 0.95
    assert (root / "model" / "xgboost-model").is_file()
    assert (root / "output" / "model.tar.gz").is_file()


def _channel_file(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))


def test_preprocess_passes_the_etl_training_ready_layout_through_unchanged(tmp_path, capsys):
    # GIVEN the Glue job's output: label-first CSV part files per split, an empty part, its marker
    ready = tmp_path / "training-ready"
    _channel_file(ready / "train" / "part-00000.csv", [[0, 1.5, 2], [1, 0.5, 3]])
    _channel_file(ready / "train" / "part-00001.csv", [[1, 2.5, 4]])
    (ready / "train" / "part-00002.csv").write_text("")
    _channel_file(ready / "validation" / "part-00000.csv", [[0, 1.0, 1]])
    _channel_file(ready / "test" / "part-00000.csv", [[1, 9.0, 9]])
    (ready / "_SUCCESS").write_text("{}")
    # WHEN the pipeline's processing step runs on it
    out = tmp_path / "out"
    assert preprocess.main(["--input-dir", str(ready), "--output-dir", str(out), "--target-column", "is_fraud"]) == 0
    # THEN no row moved between splits and the bytes are the ETL's
    assert "train: 3 rows passed through" in capsys.readouterr().out
    assert sorted(p.read_text() for p in (out / "train").iterdir()) == sorted(
        p.read_text() for p in (ready / "train").iterdir() if p.stat().st_size)
    assert (out / "test" / "test-00000.csv").read_text() == "1,9.0,9\n"


@pytest.mark.parametrize("bad_rows,reason", [([[0, "x", 1]], "non-numeric"), ([[0, 1.0]], "columns")])
def test_preprocess_refuses_a_broken_training_ready_layout(tmp_path, bad_rows, reason):
    ready = tmp_path / "training-ready"
    _channel_file(ready / "train" / "part-00000.csv", [[0, 1.5, 2]])
    _channel_file(ready / "validation" / "part-00000.csv", bad_rows)
    with pytest.raises(SystemExit, match=reason):
        preprocess.main(["--input-dir", str(ready), "--output-dir", str(tmp_path / "out")])
