"""From the documented pre-annotation request to the documented response (pure, standard library).

Request (docs.aws.amazon.com/sagemaker/latest/dg/sms-custom-templates-step3-lambda-requirements.html):
``{"version", "labelingJobArn", "dataObject": {"source": <string>} | {"source-ref": <s3 uri>}}``.
Response: ``{"taskInput": {...}, "isHumanAnnotationRequired": true}``; the worker template reads
``task.input.record.<field>`` (an inline record) or ``task.input.taskObject`` (an S3 object).

An inline ``source`` must be one JSON object, the platform's event as the manifest writer puts it;
the label field is removed before workers see the record, so no worker is shown an existing answer.
"""
from __future__ import annotations

import json
from typing import Any

DEFAULT_LABEL_FIELD = "is_fraud"


class InvalidDataObject(ValueError):
    """The data object cannot be shown to a worker; the message says why (never the record's values)."""


def build_task_input(event: Any, label_field: str = DEFAULT_LABEL_FIELD) -> dict:
    """The response for one data object, or InvalidDataObject with the reason."""
    data_object = event.get("dataObject") if isinstance(event, dict) else None
    if not isinstance(data_object, dict):
        raise InvalidDataObject("request has no dataObject")
    if "source-ref" in data_object:
        uri = data_object["source-ref"]
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise InvalidDataObject("dataObject.source-ref is not an s3:// URI")
        return {"taskInput": {"taskObject": uri}, "isHumanAnnotationRequired": True}
    if "source" not in data_object:
        raise InvalidDataObject("dataObject has neither source nor source-ref")
    source = data_object["source"]
    record = _parse_record(source)
    shown = {name: value for name, value in record.items() if name != label_field}
    return {"taskInput": {"record": shown}, "isHumanAnnotationRequired": True}


def _parse_record(source: Any) -> dict:
    if isinstance(source, dict):  # a manifest line may carry the record as an object already
        return source
    if not isinstance(source, str):
        raise InvalidDataObject("dataObject.source is neither a string nor an object")
    try:
        record = json.loads(source)
    except json.JSONDecodeError as error:
        raise InvalidDataObject(f"dataObject.source is not JSON ({error.msg} at char {error.pos})") from None
    if not isinstance(record, dict):
        raise InvalidDataObject("dataObject.source is not a JSON object (one event record)")
    return record
