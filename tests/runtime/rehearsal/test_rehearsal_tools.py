"""The rehearsal's interpreters of the synthesized definitions: SageMaker Pipelines expressions,
tuning objective regexes, batch-transform input filters and answer parsing."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))

from rehearsal.checks import apply_input_filter, parse_predictions  # noqa: E402
from rehearsal.pipeline_expr import Expressions  # noqa: E402
from rehearsal.pipeline_steps import StepFailed, _objective_regex, _trial_values  # noqa: E402


def test_expressions_resolve_parameters_steps_joins_and_property_files(tmp_path):
    # GIVEN an execution where Preprocess ran and Evaluate wrote its report
    expr = Expressions([{"Name": "InputDataUri", "DefaultValue": "s3://f/training-ready/"}], "exec-1")
    expr.steps["Preprocess"] = {"ProcessingOutputConfig": {"Outputs": {"test": {"S3Output": {"S3Uri": "s3://a/test"}}}}}
    expr.steps["Tune"] = {"TrainingJobSummaries": [{"TrainingJobName": "best-001"}]}
    report = tmp_path / "evaluation.json"
    report.write_text(json.dumps({"binary_classification_metrics": {"auc": {"value": 0.91}}}))
    expr.property_files[("Evaluate", "EvaluationReport")] = report
    # WHEN the definition's expressions are evaluated
    value = expr.evaluate({
        "uri": {"Get": "Parameters.InputDataUri"},
        "test": {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"},
        "model": {"Std:Join": {"On": "/", "Values": ["s3:/", "b", {"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"},
                                                     {"Get": "Execution.PipelineExecutionId"}]}},
        "auc": {"Std:JsonGet": {"Path": "binary_classification_metrics.auc.value",
                                "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"}}},
    })
    # THEN each resolves to what the step produced
    assert value == {"uri": "s3://f/training-ready/", "test": "s3://a/test", "model": "s3://b/best-001/exec-1", "auc": 0.91}


def test_builtin_objective_regex_reads_xgboost_native_line_as_cloudwatch_shows_it():
    # GIVEN a definition without custom metric definitions (the AWS image refuses them)
    regex = re.compile(_objective_regex({"AlgorithmSpecification": {}}, "validation:auc"))
    # WHEN xgboost's native per-round line is read with tabs shown as #011
    line = "[12]\ttrain-auc:0.98\tvalidation-auc:0.97".replace("\t", "#011")
    # THEN the objective is found, and a key=value line is not mistaken for it
    assert float(regex.match(line).group(1)) == 0.97
    assert regex.match("validation:auc=0.97") is None


def test_custom_metric_definition_wins_over_builtin_form():
    definition = {"AlgorithmSpecification": {"MetricDefinitions": [{"Name": "validation:auc", "Regex": "auc=(\\d+)"}]}}
    assert _objective_regex(definition, "validation:auc") == "auc=(\\d+)"


def test_trial_values_stay_inside_ranges_and_respect_log_scaling():
    ranges = {"ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.01", "MaxValue": "1", "ScalingType": "Logarithmic"}],
              "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "10"}]}
    trials = _trial_values(ranges, 2)
    assert [t["max_depth"] for t in trials] == ["5", "8"]
    assert all(0.01 <= float(t["eta"]) <= 1 for t in trials)
    assert float(trials[0]["eta"]) == pytest.approx(10 ** (-2 + 2 / 3), rel=1e-4)  # log-spaced, not linear


def test_input_filter_drops_the_label_column_only():
    assert apply_input_filter(["1", "0.5", "2"], "$[1:]") == ["0.5", "2"]
    assert apply_input_filter(["1", "0.5"], None) == ["1", "0.5"]
    with pytest.raises(StepFailed, match="InputFilter"):
        apply_input_filter(["1"], "$.features")


@pytest.mark.parametrize("content_type, body, expected", [
    ("text/csv; charset=utf-8", b"0.25\n0.75\n", [0.25, 0.75]),
    ("application/json", b'{"predictions": [{"score": 0.25}, {"score": 0.75}]}', [0.25, 0.75]),
    ("application/json", b"[0.25, 0.75]", [0.25, 0.75]),
    ("application/jsonlines", b'{"score": 0.25}\n{"score": 0.75}\n', [0.25, 0.75]),
])
def test_answers_parse_in_every_shape_the_server_may_send(content_type, body, expected):
    assert parse_predictions(content_type, body) == expected
