"""The labeling-job launcher's run input, checked before any file is written or job created.

`validate(request, store, ...)` returns `{"objectCount": n}` (objects counted in the manifest, not
taken from the input) or raises InvalidLabelingRequest naming the field and why: a missing or
malformed field, a job name Ground Truth would refuse or outside the environment's prefix, a
manifest outside the raw zone's `labeling/` prefix, missing, empty or with a line that is not a
JSON object with `source` or `source-ref`, an unknown task type, automated labeling on a custom
task or on fewer than 1,250 objects. The state machine fails the run with this message as its cause.
"""
from __future__ import annotations

import json
import re
from typing import Any

MIN_OBJECTS_FOR_AUTOMATED_LABELING = 1250  # Ground Truth's minimum (ml_platform task_types.py)
TASK_TYPES = ("custom", "text-classification", "image-classification", "bounding-box")
AUTOMATED_TASK_TYPES = ("text-classification", "image-classification", "bounding-box")
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # CreateLabelingJob's LabelingJobName
MAX_WORKERS_PER_OBJECT = 9  # NumberOfHumanWorkersPerDataObject


class InvalidLabelingRequest(Exception):
    """The run input cannot start a labeling job; the message says which field and why."""


def _field(request: dict, name: str, kind: type, what: str) -> Any:
    value = request.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise InvalidLabelingRequest(f"{name}: {what} is required (got {value!r})")
    return value


def count_objects(text: str, uri: str) -> int:
    """Data objects of a Ground Truth input manifest (one JSON object per non-empty line)."""
    count = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidLabelingRequest(f"manifestUri: {uri} line {number} is not JSON ({error.msg})") from None
        if not isinstance(entry, dict) or not ({"source", "source-ref"} & set(entry)):
            raise InvalidLabelingRequest(f"manifestUri: {uri} line {number} has neither source nor source-ref")
        count += 1
    if count == 0:
        raise InvalidLabelingRequest(f"manifestUri: {uri} lists no data object")
    return count


def validate(request: Any, read_manifest, *, job_prefix: str, input_prefix: str) -> dict:
    """Check the merged run input; `read_manifest(uri)` returns the manifest's text (or raises
    FileNotFoundError). `input_prefix` is `s3://<raw bucket>/labeling/`."""
    if not isinstance(request, dict):
        raise InvalidLabelingRequest(f"the run input must be a JSON object, not {type(request).__name__}")
    job = _field(request, "jobName", str, "a job name")
    if not JOB_NAME.match(job) or not job.startswith(job_prefix):
        raise InvalidLabelingRequest(f"jobName: {job!r} must start with {job_prefix!r} and use letters, digits "
                                     "and hyphens only (at most 63 characters)")
    labels = _field(request, "labels", list, "a list of label strings")
    if not labels or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels):
        raise InvalidLabelingRequest(f"labels: need one or more distinct non-empty strings (got {labels!r})")
    task = _field(request, "taskType", str, "a task type")
    if task not in TASK_TYPES:
        raise InvalidLabelingRequest(f"taskType: {task!r} is not one of {', '.join(TASK_TYPES)}")
    workers = _field(request, "workersPerObject", int, "a whole number of workers")
    if not 1 <= workers <= MAX_WORKERS_PER_OBJECT:
        raise InvalidLabelingRequest(f"workersPerObject: {workers} is not between 1 and {MAX_WORKERS_PER_OBJECT}")
    automated = _field(request, "automatedLabeling", bool, "true or false")
    _field(request, "labelAttributeName", str, "a label attribute name")
    uri = _field(request, "manifestUri", str, "an s3:// URI")
    if not uri.startswith(input_prefix) or uri == input_prefix:
        raise InvalidLabelingRequest(f"manifestUri: {uri} is not under {input_prefix}")
    try:
        text = read_manifest(uri)
    except FileNotFoundError:
        raise InvalidLabelingRequest(f"manifestUri: {uri} does not exist") from None
    count = count_objects(text, uri)
    if automated and task not in AUTOMATED_TASK_TYPES:
        raise InvalidLabelingRequest(f"automatedLabeling: Ground Truth's automated labeling supports "
                                     f"{', '.join(AUTOMATED_TASK_TYPES)} only, not {task}; use the active-learning "
                                     "state machine for custom (tabular) tasks")
    if automated and count < MIN_OBJECTS_FOR_AUTOMATED_LABELING:
        raise InvalidLabelingRequest(f"automatedLabeling: the manifest lists {count:,} objects; automated data "
                                     f"labeling needs at least {MIN_OBJECTS_FOR_AUTOMATED_LABELING:,} (label "
                                     "smaller sets without it)")
    return {"objectCount": count}
