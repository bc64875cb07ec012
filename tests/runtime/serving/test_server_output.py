"""GIVEN the real server started with the built-in's serving variables (SAGEMAKER_INFERENCE_OUTPUT,
SAGEMAKER_BATCH, SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT) or a ``_kfold`` model directory WHEN the
SDK's clients call it THEN it answers with the built-in's contents and shapes."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import xgboost as xgb
from sagemaker.core.deserializers import CSVDeserializer, JSONDeserializer, JSONLinesDeserializer
from sagemaker.core.serializers import CSVSerializer
from serving_testkit import RunningServer, train, training_rows, write_model

import serving_output as output
from serving_codec import RequestError


def started(root, env=None, workers=1) -> RunningServer:
    running = RunningServer(root, env=env, workers=workers)
    running.wait_until(200, in_a_row=3)
    return running


@pytest.fixture(scope="module")
def rows():
    return training_rows(4, seed=40)


@pytest.fixture(scope="module")
def selectable(model_root):
    running = started(model_root, {"SAGEMAKER_INFERENCE_OUTPUT": "predicted_label, probabilities"})
    yield running
    running.stop()


def test_selected_keys_in_json(selectable, rows, binary_booster):
    status, kind, answer = selectable.post(CSVSerializer().serialize(rows), accept="application/json")
    assert (status, kind) == (200, "application/json")
    p = binary_booster.predict(xgb.DMatrix(rows))
    records = JSONDeserializer().deserialize(io.BytesIO(answer), kind)["predictions"]
    assert [r["predicted_label"] for r in records] == [int(v > 0.5) for v in p]
    np.testing.assert_allclose([r["probabilities"] for r in records],
                               np.column_stack([1 - p, p]), atol=1e-6)


def test_selected_keys_in_json_lines_and_csv(selectable, rows, binary_booster):
    p = binary_booster.predict(xgb.DMatrix(rows))
    status, kind, answer = selectable.post(CSVSerializer().serialize(rows),
                                           accept="application/jsonlines")
    records = JSONLinesDeserializer().deserialize(io.BytesIO(answer), kind)
    assert [set(r) for r in records] == [{"predicted_label", "probabilities"}] * len(rows)
    status, kind, answer = selectable.post(CSVSerializer().serialize(rows), accept="text/csv")
    assert (status, kind) == (200, "text/csv; charset=utf-8")
    lines = CSVDeserializer().deserialize(io.BytesIO(answer), kind)
    assert [int(line[0]) for line in lines] == [int(v > 0.5) for v in p]
    np.testing.assert_allclose([json.loads(line[1])[1] for line in lines], p, atol=1e-6)


def test_batch_mode_answers_one_line_per_record(model_root, rows, binary_booster):
    running = started(model_root, {"SAGEMAKER_BATCH": "true"})
    try:
        status, _, answer = running.post(CSVSerializer().serialize(rows))
        assert status == 200 and answer.endswith(b"\n")
        np.testing.assert_allclose(np.loadtxt(io.BytesIO(answer)),
                                   binary_booster.predict(xgb.DMatrix(rows)), atol=1e-6)
        assert answer.count(b"\n") == len(rows)
    finally:
        running.stop()


def test_default_accept_comes_from_the_environment(model_root, rows):
    running = started(model_root, {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json"})
    try:
        status, kind, answer = running.post(CSVSerializer().serialize(rows), accept="*/*")
        assert (status, kind) == (200, "application/json")
        assert len(json.loads(answer)["predictions"]) == len(rows)
    finally:
        running.stop()


def test_kfold_model_directory_is_served_as_the_mean_of_its_members(tmp_path, rows):
    # GIVEN the layout train.py writes for _kfold: xgboost-model-0..2, no xgboost-model
    members = [train("binary:logistic", rounds=10 + 5 * k, seed=k) for k in range(3)]
    for index, booster in enumerate(members):
        write_model(tmp_path / "model", booster)
        (tmp_path / "model" / "xgboost-model").rename(tmp_path / "model" / f"xgboost-model-{index}")
    running = started(tmp_path)
    try:
        # WHEN a client asks for predictions THEN it gets the members' mean, as the built-in serves
        status, _, answer = running.post(CSVSerializer().serialize(rows), accept="application/json")
        expected = np.mean([b.predict(xgb.DMatrix(rows)) for b in members], axis=0)
        assert status == 200
        np.testing.assert_allclose([r["score"] for r in json.loads(answer)["predictions"]],
                                   expected, atol=1e-6)
    finally:
        running.stop()


def test_output_keys_the_objective_cannot_answer_fail_the_model_load(model_root):
    running = RunningServer(model_root, env={"SAGEMAKER_INFERENCE_OUTPUT": "predicted_score"},
                            workers=1)
    try:
        running.wait_until(500, in_a_row=3)
        assert b"cannot answer predicted_score" in running.get("/ping")[1]
    finally:
        running.stop()


@pytest.mark.parametrize(("objective", "prediction", "expected"), [
    ("binary:logistic", 0.25, {"predicted_label": 0, "labels": [0, 1], "probability": 0.25,
                               "probabilities": [0.75, 0.25], "raw_score": 0.25,
                               "raw_scores": [0.75, 0.25]}),
    ("binary:logitraw", 1.5, {"predicted_label": 1, "labels": [0, 1], "raw_score": 1.5}),
    ("multi:softmax", 2.0, {"predicted_label": 2.0, "labels": [0, 1, 2], "raw_score": 2.0}),
    ("multi:softprob", [0.2, 0.5, 0.3], {"predicted_label": 1, "labels": [0, 1, 2],
                                         "probability": 0.5, "probabilities": [0.2, 0.5, 0.3],
                                         "raw_score": 0.5, "raw_scores": [0.2, 0.5, 0.3]}),
    ("reg:squarederror", 41.5, {"predicted_score": 41.5}),
])
def test_every_selectable_key_as_the_builtin_computes_it(objective, prediction, expected):
    spec = output.output_spec({"SAGEMAKER_INFERENCE_OUTPUT": ",".join(expected)}, objective, 3)
    body, _ = output.encode(np.array([prediction], np.float64), output.JSON, spec)
    assert json.loads(body) == {"predictions": [expected]}


def test_unknown_output_keys_and_accepts_are_refused_with_the_valid_ones():
    with pytest.raises(output.OutputConfigError, match="unknown key"):
        output.output_spec({"SAGEMAKER_INFERENCE_OUTPUT": "score"}, "binary:logistic", 0)
    with pytest.raises(RequestError, match="accept one of") as caught:
        output.choose_accept("application/x-recordio-protobuf")
    assert caught.value.status == 406
    assert output.choose_accept(None) == output.CSV
    assert output.choose_accept("*/*", "application/json") == output.JSON
    assert output.choose_accept("text/csv;q=0.9, application/json") == output.CSV
