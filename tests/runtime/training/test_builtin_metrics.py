"""The built-in algorithm's extra metrics equal scikit-learn's (its definitions), and the metric plan."""
from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb
from sklearn import metrics as skm

import builtin_metrics
import hyperparams
import train_metrics
from sm_contract import TrainingError

SKLEARN = {
    "accuracy": skm.accuracy_score,
    "balanced_accuracy": skm.balanced_accuracy_score,
    "f1": lambda y, p: skm.f1_score(y, p, average="macro", zero_division=0),
    "f1_macro": lambda y, p: skm.f1_score(y, p, average="macro", zero_division=0),
    "f1_binary": lambda y, p: skm.f1_score(y, p, average="binary", zero_division=0),
    "precision": lambda y, p: skm.precision_score(y, p, zero_division=0),
    "recall": lambda y, p: skm.recall_score(y, p, zero_division=0),
    "precision_macro": lambda y, p: skm.precision_score(y, p, average="macro", zero_division=0),
    "precision_micro": lambda y, p: skm.precision_score(y, p, average="micro", zero_division=0),
    "recall_macro": lambda y, p: skm.recall_score(y, p, average="macro", zero_division=0),
    "recall_micro": lambda y, p: skm.recall_score(y, p, average="micro", zero_division=0),
}


class _Labels:
    def __init__(self, y):
        self.y = y

    def get_label(self):
        return self.y


@pytest.mark.parametrize("name", sorted(SKLEARN))
def test_binary_class_metrics_equal_scikit_learn(name):
    # GIVEN binary:logistic probabilities and labels
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500).astype(np.float32)
    prob = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1).astype(np.float32)
    # WHEN the custom metric evaluates them
    (got_name, value), = builtin_metrics.custom_metric([name], "binary:logistic", None)(prob, _Labels(y))
    # THEN it is scikit-learn's value on the class the built-in takes (probability > 0.5)
    assert got_name == name
    assert value == pytest.approx(SKLEARN[name](y, (prob > 0.5).astype(int)), abs=1e-12)


@pytest.mark.parametrize("name", ["accuracy", "balanced_accuracy", "f1", "f1_macro", "precision_macro",
                                  "precision_micro", "recall_macro", "recall_micro"])
def test_multiclass_metrics_equal_scikit_learn_with_a_class_never_predicted(name):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 300).astype(np.float32)
    scores = rng.random((300, 4)).astype(np.float32)
    scores[:, 3] = -1  # class 3 is never predicted: macro averages must still count it as scikit-learn does
    (_, value), = builtin_metrics.custom_metric([name], "multi:softprob", 4)(scores, _Labels(y))
    assert value == pytest.approx(SKLEARN[name](y, scores.argmax(1)), abs=1e-12)
    # multi:softmax hands class indexes, not scores
    (_, same), = builtin_metrics.custom_metric([name], "multi:softmax", 4)(
        scores.argmax(1).astype(np.float32), _Labels(y))
    assert same == pytest.approx(value, abs=1e-12)


def test_regression_metrics_equal_scikit_learn():
    rng = np.random.default_rng(3)
    y = rng.normal(size=400).astype(np.float32)
    pred = (y + rng.normal(scale=0.3, size=400)).astype(np.float32)
    got = dict(builtin_metrics.custom_metric(["mse", "r2"], "reg:squarederror", None)(pred, _Labels(y)))
    assert got["mse"] == pytest.approx(skm.mean_squared_error(y, pred), rel=1e-6)
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-6)


def test_class_metric_on_continuous_labels_says_what_to_use():
    with pytest.raises(TrainingError, match="need labels 0..1.*use mse, rmse, mae or r2"):
        builtin_metrics.custom_metric(["accuracy"], "reg:squarederror", None)(
            np.zeros(3, np.float32), _Labels(np.array([0.5, 2.5, 7.0], np.float32)))


def test_tuning_objective_adds_its_metric_and_drives_early_stopping():
    # GIVEN a tuning job's objective that eval_metric does not produce
    hp = hyperparams.parse({"objective": "binary:logistic", "eval_metric": "auc",
                            "_tuning_objective_metric": "validation:accuracy"})
    plan = train_metrics.plan(hp)
    # THEN accuracy is added (as an extra metric), xgboost keeps auc, early stopping watches accuracy
    assert plan.native == ["auc"] and plan.extra == ["accuracy"]
    assert plan.early_stopping_metric == "accuracy" and plan.maximize()
    assert train_metrics.plan(hyperparams.parse({"eval_metric": "rmse,mae"})).early_stopping_metric == "mae"
    assert not train_metrics.plan(hyperparams.parse({"eval_metric": "logloss"})).maximize()


@pytest.mark.parametrize("raw,reason", [
    ({"eval_metric": "acuracy"}, "eval_metric 'acuracy' is not a metric"),
    ({"eval_metric": "auc", "objective": "reg:squarederror"}, "auc needs a classification or ranking objective"),
    ({"eval_metric": "f1_binary", "objective": "multi:softprob", "num_class": 3}, "use f1_macro or f1_micro"),
    ({"_tuning_objective_metric": "test:auc"}, "must be train:<metric> or validation:<metric>"),
])
def test_bad_metric_settings_are_user_errors(raw, reason):
    with pytest.raises(TrainingError, match=reason):
        train_metrics.plan(hyperparams.parse({"objective": "binary:logistic", **raw}))


def test_variants_with_thresholds_are_accepted():
    plan = train_metrics.plan(hyperparams.parse({"objective": "binary:logistic", "eval_metric": "error@0.7,auc"}))
    assert plan.native == ["error@0.7", "auc"]


def test_extra_metrics_run_inside_xgboost_training():
    # GIVEN a real booster trained with the custom metric next to xgboost's own error
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    d = xgb.DMatrix(x, label=y)
    log: dict = {}
    xgb.train({"objective": "binary:logistic", "eval_metric": "error"}, d, 5, evals=[(d, "train")],
              custom_metric=builtin_metrics.custom_metric(["accuracy"], "binary:logistic", None),
              evals_result=log, verbose_eval=False)
    # THEN accuracy is exactly 1 - error every round
    assert np.allclose(np.array(log["train"]["accuracy"]), 1 - np.array(log["train"]["error"]))
