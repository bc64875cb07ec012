"""The training pipeline's monitoring baseline: what the step runs and what the registered model
package records about it.

The step runs `training_code/baseline.py` on the preprocess job's train split (the rows the model
learnt from), with the best tuning trial's model and the test split, and writes Model Monitor's
files under the execution's `baseline/` prefix. The model package then carries them twice, as the
Model Registry expects: `DriftCheckBaselines` (what monitoring compares against) and
`ModelMetrics.ModelDataQuality` (what the model was trained on). The monitoring function finds a
deployed model's baseline through `DriftCheckBaselines.ModelDataQuality.Statistics`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ml_platform.config_sections.monitoring import MonitoringConfig

STEP_NAME = "MonitoringBaseline"
SCRIPT = "baseline.py"
STATISTICS, CONSTRAINTS, QUALITY_CONSTRAINTS = ("statistics.json", "constraints.json",
                                                "model_quality_constraints.json")
LOCAL = {"train": "/opt/ml/processing/train", "test": "/opt/ml/processing/test",
         "model": "/opt/ml/processing/model", "baseline": "/opt/ml/processing/baseline"}


def baseline_arguments(monitoring: MonitoringConfig) -> tuple[str, ...]:
    """baseline.py's command line: local paths and the thresholds the constraints will carry."""
    m = monitoring
    return ("--train-dir", LOCAL["train"], "--test-dir", LOCAL["test"], "--model-path", LOCAL["model"],
            "--output-dir", LOCAL["baseline"], "--problem-type", m.problem_type,
            "--missing-tolerance", str(m.missing_tolerance), "--datatype-threshold", str(m.datatype_threshold),
            "--comparison-threshold", str(m.comparison_threshold),
            "--categorical-threshold", str(m.categorical_threshold), "--comparison-method", m.comparison_method,
            "--quality-tolerance", str(m.quality_tolerance))


def _json(uri: Any) -> dict[str, Any]:
    return {"ContentType": "application/json", "S3Uri": uri}


def package_fields(baseline_dir: Any, join: Callable[..., Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(DriftCheckBaselines, ModelMetrics.ModelDataQuality) for the register step; `baseline_dir`
    is the step's output URI (a pipeline expression) and `join` the SDK's `Join`."""
    def file(name: str) -> Any:
        return join(on="/", values=[baseline_dir, name])

    data_quality = {"Statistics": _json(file(STATISTICS)), "Constraints": _json(file(CONSTRAINTS))}
    drift = {"ModelDataQuality": data_quality, "ModelQuality": {"Constraints": _json(file(QUALITY_CONSTRAINTS))}}
    return drift, data_quality
