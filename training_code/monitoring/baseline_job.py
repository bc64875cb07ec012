"""The baseline step: statistics and constraints of the training data the model was trained on.

Reads the label-first channel files (CSV without header, as preprocess writes them), drops the
label, and names features `_c0.._c{n-1}` as Model Monitor names the columns of a headerless CSV
capture (or `--feature-names`). With `--model-path` it also scores the baseline rows, giving the
prediction distribution (`prediction_statistics.json`) for prediction drift; with `--test-dir`
as well, the model-quality baseline (`model_quality_statistics.json`) and constraints a tolerance
below it (`model_quality_constraints.json`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitoring import quality
from monitoring.columns import Column
from monitoring.statistics import build_constraints, build_statistics

MAX_ROWS = 2_000_000  # a seeded sample above this keeps the step's memory bounded


@dataclass(frozen=True)
class BaselineSettings:
    train_dir: Path
    output_dir: Path
    model_path: Path | None = None
    test_dir: Path | None = None
    feature_names: tuple[str, ...] = ()
    problem_type: str = "BinaryClassification"
    missing_tolerance: float = 0.05
    datatype_threshold: float = 0.1
    comparison_threshold: float = 0.1
    categorical_threshold: float = 0.1
    comparison_method: str = "Simple"
    quality_tolerance: float = 0.1
    probability_threshold: float = 0.5


def _columns(matrix: np.ndarray, names: list[str]) -> list[Column]:
    return [Column(name, np.ascontiguousarray(matrix[:, i], dtype=np.float64),
                   missing=int(np.isnan(matrix[:, i]).sum()), non_numeric=0)
            for i, name in enumerate(names)]


def _names(settings: BaselineSettings, width: int) -> list[str]:
    if settings.feature_names:
        if len(settings.feature_names) != width:
            raise ValueError(f"--feature-names has {len(settings.feature_names)} names, the data has {width} features")
        return list(settings.feature_names)
    return [f"_c{i}" for i in range(width)]


def run_baseline(s: BaselineSettings) -> dict:
    """Write the baseline files; returns {file name: path}."""
    from evaluate import load_test  # the training code's own label-first reader

    labels, features = load_test(s.train_dir, "text/csv")
    features = np.asarray(features, dtype=np.float64)
    if len(features) > MAX_ROWS:
        keep = np.sort(np.random.default_rng(0).choice(len(features), MAX_ROWS, replace=False))
        features, labels = features[keep], labels[keep]
    names = _names(s, features.shape[1])
    statistics = build_statistics(_columns(features, names))
    constraints = build_constraints(
        statistics, missing_tolerance=s.missing_tolerance, datatype_check_threshold=s.datatype_threshold,
        comparison_threshold=s.comparison_threshold, categorical_threshold=s.categorical_threshold,
        comparison_method=s.comparison_method)
    files = {"statistics.json": statistics, "constraints.json": constraints}
    if s.model_path is not None:
        files.update(_model_baselines(s, features))
    s.output_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, document in files.items():
        (s.output_dir / name).write_text(json.dumps(document))
        written[name] = s.output_dir / name
    return written


def _scores(booster, features: np.ndarray) -> np.ndarray:
    import xgboost as xgb

    pred = booster.predict(xgb.DMatrix(features))
    return pred.argmax(axis=1).astype(np.float64) if pred.ndim == 2 else pred.astype(np.float64)


def _model_baselines(s: BaselineSettings, features: np.ndarray) -> dict:
    from evaluate import load_boosters, load_test

    boosters = load_boosters(s.model_path)  # one, or a _kfold ensemble served as the mean of its members

    def ensemble(rows: np.ndarray) -> np.ndarray:
        return np.mean([_scores(b, rows) for b in boosters], axis=0)

    scores = ensemble(features)
    files = {"prediction_statistics.json": build_statistics([Column("prediction", scores, 0, 0)])}
    if s.test_dir is not None:
        labels, test = load_test(s.test_dir, "text/csv")
        values = quality.metrics(s.problem_type, np.asarray(labels, dtype=np.float64),
                                 ensemble(np.asarray(test, dtype=np.float64)), s.probability_threshold)
        files["model_quality_statistics.json"] = quality.statistics_document(s.problem_type, values, len(labels))
        files["model_quality_constraints.json"] = quality.suggested_constraints(
            s.problem_type, values, s.quality_tolerance)
    return files
