"""Which metrics a job evaluates, how early stopping watches them, and the final figures.

As the built-in algorithm does: the metrics are `eval_metric` plus the tuning job's objective
(`_tuning_objective_metric`, e.g. `validation:accuracy`) when `eval_metric` lacks it; names xgboost
knows are xgboost's, the built-in's extras (builtin_metrics) are computed by a custom metric; early
stopping watches the tuning objective, else the last `eval_metric`, on the validation channel.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import xgboost as xgb
from xgboost import collective

import builtin_metrics
from sm_contract import TrainingError

# xgboost's own metric names (3.2); `name@t` / `name-` variants are checked by pattern below.
NATIVE_METRICS = (
    "rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss", "auc", "aucpr",
    "pre", "ndcg", "map", "poisson-nloglik", "gamma-nloglik", "cox-nloglik", "gamma-deviance",
    "tweedie-nloglik", "aft-nloglik", "interval-regression-accuracy", "quantile", "expectile",
)
_NATIVE_MAXIMIZE = ("auc", "aucpr", "pre", "ndcg", "map", "interval-regression-accuracy")
_VARIANT = re.compile(r"^(error|ndcg|map|pre)@(.+?)-?$|^(ndcg|map|pre)-$|^tweedie-nloglik@(.+)$")


def _check_name(name: str, objective: str) -> None:
    known = name in NATIVE_METRICS or name in builtin_metrics.EXTRA_METRICS or _VARIANT.match(name)
    if not known:
        raise TrainingError(f"eval_metric {name!r} is not a metric: use one of "
                            f"{', '.join(NATIVE_METRICS + builtin_metrics.EXTRA_METRICS)} (or error@t, ndcg@n, map@n)")
    if name == "auc" and not objective.startswith(("binary:", "rank:", "multi:")):
        raise TrainingError(f"eval_metric auc needs a classification or ranking objective, not {objective}")


@dataclass(frozen=True)
class MetricPlan:
    """The metrics of a job: xgboost's (`native`), the built-in's extras (`extra`), early stopping's."""

    native: list[str]
    extra: list[str]
    early_stopping_metric: str | None
    tuning_metric: str | None

    def custom_metric(self, objective: str, num_class: int | None) -> Callable | None:
        return builtin_metrics.custom_metric(self.extra, objective, num_class) if self.extra else None

    def maximize(self) -> bool:
        name = (self.early_stopping_metric or "").split("@")[0]
        return name in builtin_metrics.MAXIMIZE or name in _NATIVE_MAXIMIZE


def plan(hp: dict) -> MetricPlan:
    """The job's metrics from `eval_metric` and `_tuning_objective_metric` (`<channel>:<metric>`)."""
    names = list(hp["eval_metric"] or [])
    tuning = hp.get("_tuning_objective_metric")
    tuning_name = None
    if tuning:
        channel, _, tuning_name = tuning.partition(":")
        if channel not in ("train", "validation") or not tuning_name:
            raise TrainingError(f"_tuning_objective_metric {tuning!r} must be train:<metric> or validation:<metric>")
        if tuning_name not in names:
            names.append(tuning_name)
    for name in names:
        _check_name(name, hp["objective"])
    multiclass = hp["objective"].startswith("multi:")
    for name in names:
        if multiclass and name in builtin_metrics.BINARY_ONLY:
            raise TrainingError(f"eval_metric {name} is for binary classification: with {hp['objective']} use "
                                f"{name.split('_')[0]}_macro or {name.split('_')[0]}_micro")
    early = tuning_name or (hp["eval_metric"][-1] if hp["eval_metric"] else None)
    return MetricPlan(native=[n for n in names if n not in builtin_metrics.EXTRA_METRICS],
                      extra=[n for n in names if n in builtin_metrics.EXTRA_METRICS],
                      early_stopping_metric=early, tuning_metric=tuning)


def early_stopping(metrics: MetricPlan, rounds: int | None, has_validation: bool) -> list:
    """The early-stopping callback (on `validation`), or none when there is nothing to watch."""
    if not rounds or not has_validation:
        return []
    return [xgb.callback.EarlyStopping(rounds=rounds, metric_name=metrics.early_stopping_metric,
                                       data_name="validation", maximize=metrics.maximize(), save_best=False)]


_EVAL_ITEM = re.compile(r"([\w]+)-([\w@.:+-]+?):(-?[\d.eE+-]+|-?nan|-?inf)")


def parse_eval(text: str) -> dict[str, dict[str, float]]:
    """Parse `Booster.eval_set` output (`[0]\\ttrain-auc:0.99\\tvalidation-auc:0.98`) into nested dicts."""
    out: dict[str, dict[str, float]] = {}
    for field in text.split("\t")[1:]:
        match = _EVAL_ITEM.fullmatch(field.strip())
        if match:
            out.setdefault(match.group(1), {})[match.group(2)] = float(match.group(3))
    return out


def best_model(booster: xgb.Booster) -> tuple[xgb.Booster, int]:
    """The booster cut at its best iteration (early stopping), and that iteration."""
    rounds = booster.num_boosted_rounds()
    best = booster.attr("best_iteration")
    best_iteration = int(best) if best is not None else rounds - 1
    if best_iteration < rounds - 1:
        return booster[: best_iteration + 1], best_iteration
    return booster, best_iteration


def final_metrics(final: xgb.Booster, evals: list, dtest=None, custom: Callable | None = None) -> dict:
    """Metrics of the final model on every eval set (and test); prints `test:<metric>` lines.

    In a multi-host job this is a collective call: every host must make it, not only the leader.
    """
    def evaluate(sets):
        return parse_eval(final.eval_set(sets, feval=custom, output_margin=False)) if sets else {}

    metrics = evaluate(evals)
    if dtest is not None:
        metrics.update(evaluate([(dtest, "test")]))
        if collective.get_rank() == 0:
            print(" ".join(f"test:{k}={v:.6f}" for k, v in metrics.get("test", {}).items()), flush=True)
    return metrics
