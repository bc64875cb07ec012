"""GIVEN bad input WHEN training runs THEN it exits non-zero with a one-line reason in output/failure."""
from __future__ import annotations

import json

import pytest
from training_testkit import breast_cancer, channel, job_root, write_csv

import train

HP = {"objective": "binary:logistic", "num_round": 3}


def _good_root(tmp_path, hp=HP):
    x, y = breast_cancer()
    root = job_root(tmp_path / "job", hp)
    write_csv(channel(root, "train") / "train.csv", x[:400], y[:400])
    write_csv(channel(root, "validation") / "valid.csv", x[400:], y[400:])
    return root


def _fail(root) -> str:
    assert train.main(["--root", str(root)]) == 1
    text = (root / "output" / "failure").read_text()
    assert text.endswith("\n") and text.count("\n") == 1, text
    assert not (root / "model" / "xgboost-model").exists()
    return text


def test_good_root_trains(tmp_path):
    root = _good_root(tmp_path)
    assert train.main(["--root", str(root)]) == 0
    assert (root / "model" / "xgboost-model").exists()


def test_missing_train_channel(tmp_path):
    root = _good_root(tmp_path)
    (channel(root, "train") / "train.csv").unlink()
    channel(root, "train").rmdir()
    assert "channel 'train' is missing" in _fail(root)


def test_empty_file(tmp_path):
    root = _good_root(tmp_path)
    (channel(root, "train") / "extra.csv").write_text("")
    assert "extra.csv: file is empty" in _fail(root)


def test_non_numeric_cell(tmp_path):
    root = _good_root(tmp_path)
    lines = (channel(root, "train") / "train.csv").read_text().splitlines()
    cells = lines[10].split(",")
    cells[3] = "abc"
    lines[10] = ",".join(cells)
    (channel(root, "train") / "train.csv").write_text("\n".join(lines) + "\n")
    text = _fail(root)
    assert "train.csv: invalid CSV, every cell must be a number (In CSV column #3: CSV conversion error to float: invalid value 'abc')" in text


def test_label_outside_objective_range(tmp_path):
    x, y = breast_cancer()
    root = _good_root(tmp_path)
    y = y.copy()
    y[5] = 2.0
    write_csv(channel(root, "train") / "train.csv", x[:400], y[:400])
    text = _fail(root)
    assert "train/train.csv: label range [0, 2] is outside [0, 1] required by binary:logistic" in text


def test_unknown_hyperparameter(tmp_path):
    root = _good_root(tmp_path, HP | {"max_dept": 4})
    assert "unknown hyperparameter(s): max_dept" in _fail(root)


@pytest.mark.parametrize("hp,reason", [
    ({"eta": "fast"}, "hyperparameter eta='fast' is not a valid float"),
    ({"max_depth": -1}, "hyperparameter max_depth=-1 must be >= 0"),
    ({"objective": "multi:softmax"}, "num_class is required"),
])
def test_invalid_hyperparameter_values(tmp_path, hp, reason):
    root = job_root(tmp_path / "job", HP)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(HP | hp))
    assert reason in _fail(root)


def test_mismatched_feature_count_between_files(tmp_path):
    x, y = breast_cancer()
    root = _good_root(tmp_path)
    write_csv(channel(root, "train") / "narrow.csv", x[:50, :10], y[:50])
    # Files are read in sorted order: narrow.csv sets the width, train.csv then disagrees.
    assert "train/train.csv: 30 features, expected 10" in _fail(root)
