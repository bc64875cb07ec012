"""SageMaker Processing job: our model monitor on one window of an endpoint's data capture.

    python monitor.py --endpoint NAME [--baseline-dir /opt/ml/processing/baseline]
        [--capture-dir /opt/ml/processing/capture] [--labels-dir /opt/ml/processing/labels]
        [--output-dir /opt/ml/processing/report] [--since ISO] [--until ISO]
        [--problem-type BinaryClassification] [--comparison-threshold X] [--categorical-threshold X]
        [--datatype-threshold X] [--range-threshold X] [--prediction-threshold X]
        [--comparison-method Simple|Robust] [--workers N] [--publish-metrics]

Exit 0 whether or not violations were found (they are the job's output, read by alarms); exit 1
only when the baseline is missing or unreadable. Malformed capture lines are counted, never fatal.
See monitoring/run.py for the files written and monitoring/cloudwatch.py for the metrics.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from monitoring import cloudwatch
from monitoring.capture import parse_time
from monitoring.run import MonitorSettings, run_monitor


def _time(text: str | None):
    if not text:
        return None
    moment = parse_time(text)
    if moment is None:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}")
    return moment


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True)
    root = Path("/opt/ml/processing")
    for flag, default in (("baseline-dir", "baseline"), ("capture-dir", "capture"), ("output-dir", "report")):
        p.add_argument(f"--{flag}", type=Path, default=root / default)
    p.add_argument("--labels-dir", type=Path, default=None)
    p.add_argument("--since", type=_time, default=None)
    p.add_argument("--until", type=_time, default=None)
    p.add_argument("--problem-type", default="BinaryClassification",
                   choices=("BinaryClassification", "MulticlassClassification", "Regression"))
    p.add_argument("--probability-threshold", type=float, default=0.5)
    for flag in ("comparison", "categorical", "datatype", "range", "prediction"):
        p.add_argument(f"--{flag}-threshold", type=float, default=None)
    p.add_argument("--comparison-method", choices=("Simple", "Robust"), default=None)
    p.add_argument("--workers", type=int, default=0, help="parsing processes (0: one per CPU)")
    p.add_argument("--publish-metrics", action="store_true", help="PutMetricData from the job itself")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    overrides = {"comparison": a.comparison_threshold, "categorical": a.categorical_threshold,
                 "datatype": a.datatype_threshold, "range_share": a.range_threshold, "method": a.comparison_method}
    try:
        summary = run_monitor(MonitorSettings(
            endpoint=a.endpoint, baseline_dir=a.baseline_dir, capture_dir=a.capture_dir,
            output_dir=a.output_dir, labels_dir=a.labels_dir, since=a.since, until=a.until,
            problem_type=a.problem_type, probability_threshold=a.probability_threshold,
            prediction_threshold=a.prediction_threshold, thresholds=overrides, workers=a.workers))
    except (FileNotFoundError, ValueError, KeyError) as error:
        print(f"monitoring failed: unreadable baseline: {error}", file=sys.stderr)
        return 1
    print(json.dumps({k: summary[k] for k in ("endpoint", "records_read", "malformed_records", "rows",
                                              "drifted_features", "prediction_drift")}))
    for violation in summary["violations"]:
        print(f"violation: {violation.get('feature_name') or violation.get('metric_name')}: "
              f"{violation['constraint_check_type']}: {violation['description']}")
    if a.publish_metrics:
        import boto3

        namespace, data = cloudwatch.from_json(json.loads((a.output_dir / "cloudwatch_metrics.json").read_text()))
        cloudwatch.publish(boto3.client("cloudwatch"), data, namespace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
