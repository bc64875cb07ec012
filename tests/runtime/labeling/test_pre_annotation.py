"""The pre-annotation Lambda on the documented request shapes."""
from __future__ import annotations

import json

import pytest


def test_inline_record_becomes_task_input_without_its_label(pre_annotation, load_event):
    # GIVEN a manifest line whose source is one event, label included
    event = load_event("labeling_pre_annotation_source.json")
    # WHEN Ground Truth asks for the task input
    response = pre_annotation.handler(event, None)
    # THEN the worker gets the record's fields but not the existing answer
    record = json.loads(event["dataObject"]["source"])
    assert response["isHumanAnnotationRequired"] is True
    assert response["taskInput"]["record"] == {k: v for k, v in record.items() if k != "is_fraud"}


def test_label_field_comes_from_the_environment(pre_annotation, load_event, monkeypatch):
    monkeypatch.setenv("LABEL_FIELD", "channel")
    response = pre_annotation.handler(load_event("labeling_pre_annotation_source.json"), None)
    assert "channel" not in response["taskInput"]["record"] and "is_fraud" in response["taskInput"]["record"]


def test_source_ref_is_passed_as_task_object(pre_annotation, load_event):
    event = load_event("labeling_pre_annotation_source_ref.json")
    response = pre_annotation.handler(event, None)
    assert response == {"taskInput": {"taskObject": event["dataObject"]["source-ref"]},
                        "isHumanAnnotationRequired": True}


def test_malformed_source_is_refused_with_reason_and_logged(pre_annotation, load_event, capsys):
    # GIVEN a source that is truncated JSON
    event = load_event("labeling_pre_annotation_malformed.json")
    # WHEN/THEN the object is refused with the parse reason, which is also logged with the job ARN
    with pytest.raises(ValueError, match="dataObject.source is not JSON"):
        pre_annotation.handler(event, None)
    logged = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert logged["message"] == "data_object_rejected" and logged["labelingJobArn"] == event["labelingJobArn"]


@pytest.mark.parametrize("data_object, reason", [
    ({}, "neither source nor source-ref"),
    ({"source": "[1, 2]"}, "not a JSON object"),
    ({"source": 7}, "neither a string nor an object"),
    ({"source-ref": "https://example.com/x"}, "not an s3:// URI"),
])
def test_unusable_data_objects_are_refused(pre_annotation, load_event, data_object, reason):
    event = load_event("labeling_pre_annotation_source.json") | {"dataObject": data_object}
    with pytest.raises(ValueError, match=reason):
        pre_annotation.handler(event, None)
