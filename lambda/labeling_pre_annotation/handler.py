"""Ground Truth pre-annotation Lambda for the platform's custom labeling task.

Handler `handler.handler`: one data object in, `{"taskInput", "isHumanAnnotationRequired"}` out
(pre_annotation_task.py). A data object that cannot be shown raises InvalidDataObject: Ground Truth
then fails that object with the reason (visible in the job's output and in this function's Errors
metric) while the other objects go on; nothing is silently skipped.

Settings (environment variables, optional): LABEL_FIELD (default "is_fraud"), removed from the record
that workers see.
"""
from __future__ import annotations

import json
import os
from typing import Any

from pre_annotation_task import DEFAULT_LABEL_FIELD, InvalidDataObject, build_task_input


def handler(event: dict, context: Any) -> dict:
    """Build the worker's task input for one data object."""
    try:
        return build_task_input(event, os.environ.get("LABEL_FIELD", DEFAULT_LABEL_FIELD))
    except InvalidDataObject as error:
        print(json.dumps({"level": "WARNING", "message": "data_object_rejected", "reason": str(error),
                          "labelingJobArn": event.get("labelingJobArn") if isinstance(event, dict) else None}),
              flush=True)
        raise
