"""SageMaker Processing job: the monitoring baseline of the training data (Model Monitor formats).

    python baseline.py [--train-dir /opt/ml/processing/train] [--output-dir /opt/ml/processing/baseline]
        [--model-path /opt/ml/processing/model] [--test-dir /opt/ml/processing/test]
        [--problem-type BinaryClassification|MulticlassClassification|Regression]
        [--missing-tolerance 0.05] [--datatype-threshold 0.1] [--comparison-threshold 0.1]
        [--categorical-threshold 0.1] [--comparison-method Simple|Robust] [--quality-tolerance 0.1]
        [--feature-names a,b,c]

Writes statistics.json and constraints.json (data quality), and with a model
prediction_statistics.json, model_quality_statistics.json and model_quality_constraints.json.
See monitoring/baseline_job.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitoring.baseline_job import BaselineSettings, run_baseline

PROBLEMS = ("BinaryClassification", "MulticlassClassification", "Regression")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-dir", type=Path, default=Path("/opt/ml/processing/train"))
    p.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/baseline"))
    p.add_argument("--model-path", type=Path, default=None)
    p.add_argument("--test-dir", type=Path, default=None)
    p.add_argument("--problem-type", choices=PROBLEMS, default="BinaryClassification")
    p.add_argument("--feature-names", default="")
    for flag, default in (("missing-tolerance", 0.05), ("datatype-threshold", 0.1),
                          ("comparison-threshold", 0.1), ("categorical-threshold", 0.1),
                          ("quality-tolerance", 0.1)):
        p.add_argument(f"--{flag}", type=float, default=default)
    p.add_argument("--comparison-method", choices=("Simple", "Robust"), default="Simple")
    a = p.parse_args(argv)
    try:
        written = run_baseline(BaselineSettings(
            train_dir=a.train_dir, output_dir=a.output_dir, model_path=a.model_path, test_dir=a.test_dir,
            feature_names=tuple(n for n in a.feature_names.split(",") if n), problem_type=a.problem_type,
            missing_tolerance=a.missing_tolerance, datatype_threshold=a.datatype_threshold,
            comparison_threshold=a.comparison_threshold, categorical_threshold=a.categorical_threshold,
            comparison_method=a.comparison_method, quality_tolerance=a.quality_tolerance))
    except (ValueError, OSError) as error:
        print(f"baseline failed: {error}", file=sys.stderr)
        return 1
    for name, path in written.items():
        print(f"wrote {name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
