"""GIVEN real boosters WHEN the array evaluator predicts THEN it matches xgboost to 1e-6."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from serving_testkit import N_FEATURES, train, training_rows, write_model

from serving_model import load_predictor, probe_rows
from serving_trees import UnsupportedModel, export_forest

OBJECTIVES = [("binary:logistic", {}), ("reg:squarederror", {}), ("multi:softprob", {}),
              ("multi:softmax", {}), ("reg:logistic", {}), ("binary:logitraw", {}),
              ("count:poisson", {}), ("reg:gamma", {}), ("reg:absoluteerror", {}),
              ("reg:pseudohubererror", {"huber_slope": 50.0}), ("reg:tweedie", {})]


def scoring_rows(booster: xgb.Booster, count: int = 400) -> np.ndarray:
    """Held-out rows with 20% missing, plus rows sitting exactly on split thresholds."""
    rows = training_rows(count, seed=7)
    rows[np.random.default_rng(8).random(rows.shape) < 0.2] = np.nan
    forest = export_forest(booster.save_raw("json"))
    on_split = probe_rows(forest, N_FEATURES, 100, seed=9)
    splits = np.flatnonzero(~np.isnan(forest.threshold))
    assert splits.size, "the model has no splits: the test would prove nothing"
    for row in range(len(on_split)):  # one feature exactly on a threshold: it must go right
        split = splits[row % splits.size]
        on_split[row, forest.feature[split] % N_FEATURES] = forest.threshold[split]
    return np.concatenate([rows, on_split])


def assert_matches_xgboost(booster: xgb.Booster, rows: np.ndarray, predictor=None) -> None:
    predictor = predictor or load_predictor_for(booster)
    expected = booster.predict(xgb.DMatrix(rows))
    for size in (1, 3, 64, len(rows)):  # the single-row path and the batched path
        got = np.concatenate([predictor.forest.predict(rows[i:i + size])
                              for i in range(0, len(rows), size)])
        # 1e-6 absolute, or relative for regression values far above 1 (float32 resolution).
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def load_predictor_for(booster):
    with tempfile.TemporaryDirectory() as directory:
        return load_predictor(write_model(Path(directory), booster), fast_max_rows=1_000_000)


@pytest.mark.parametrize(("objective", "params"), OBJECTIVES)
def test_array_evaluator_matches_xgboost_on_every_supported_objective(objective, params):
    # GIVEN a booster trained on data with missing values
    booster = train(objective, **params)
    # WHEN the array evaluator predicts held-out rows, 20% missing, some exactly on thresholds
    # THEN its predictions equal xgboost's to 1e-6
    assert_matches_xgboost(booster, scoring_rows(booster))


def test_missing_values_take_both_default_directions():
    booster = train("binary:logistic")
    trees = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    splits = [flag for tree in trees for flag, left in zip(tree["default_left"], tree["left_children"], strict=False)
              if left != -1]
    assert 0 < sum(splits) < len(splits)  # the model really has default-left and default-right nodes
    all_missing = np.full((5, N_FEATURES), np.nan, np.float32)
    assert_matches_xgboost(booster, all_missing)


def test_deep_trees_and_parallel_trees_match():
    booster = train("multi:softprob", rounds=8, depth=9, num_parallel_tree=3, subsample=0.8)
    assert_matches_xgboost(booster, scoring_rows(booster))


def test_model_with_base_score_and_many_rounds_matches():
    booster = train("reg:squarederror", rounds=120, depth=6, base_score=7.5, eta=0.05)
    assert_matches_xgboost(booster, scoring_rows(booster))


def test_categorical_splits_are_refused_and_xgboost_predicts_instead(tmp_path):
    # GIVEN a model with categorical splits
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"colour": pd.Categorical(rng.integers(0, 5, 600)),
                          "size": rng.normal(size=600)})
    label = (frame["colour"].cat.codes.to_numpy() % 2 == 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                        xgb.DMatrix(frame, label=label, enable_categorical=True), 10)
    # WHEN exported THEN the array evaluator refuses clearly
    with pytest.raises(UnsupportedModel, match="categorical splits"):
        export_forest(booster.save_raw("json"))
    # AND the predictor keeps every batch on xgboost, with the same answers as xgboost's own
    predictor = load_predictor(write_model(tmp_path, booster))
    assert predictor.forest is None and "categorical" in predictor.note
    rows = np.column_stack([frame["colour"].cat.codes, frame["size"]]).astype(np.float32)[:50]
    expected = booster.predict(xgb.DMatrix(frame.iloc[:50], enable_categorical=True))
    np.testing.assert_allclose(predictor.predict(rows), expected, atol=1e-6)


@pytest.mark.parametrize("params", [{"booster": "gblinear"}, {"booster": "dart", "rate_drop": 0.1}])
def test_non_tree_boosters_fall_back_to_xgboost(tmp_path, params):
    booster = train("binary:logistic", rounds=5, **params)
    predictor = load_predictor(write_model(tmp_path, booster))
    assert predictor.forest is None
    rows = training_rows(20, seed=4)
    np.testing.assert_allclose(predictor.predict(rows), booster.predict(xgb.DMatrix(rows)), atol=1e-6)


def test_predictor_uses_xgboost_above_the_measured_crossover(tmp_path, binary_booster):
    predictor = load_predictor(write_model(tmp_path, binary_booster))
    assert predictor.forest is not None and predictor.fast_max_rows >= 1
    rows = training_rows(predictor.fast_max_rows + 50, seed=5)
    expected = binary_booster.predict(xgb.DMatrix(rows))
    np.testing.assert_allclose(predictor.predict(rows), expected, atol=1e-6)  # xgboost path
    np.testing.assert_allclose(predictor.predict(rows[:1]), expected[:1], atol=1e-6)  # array path
