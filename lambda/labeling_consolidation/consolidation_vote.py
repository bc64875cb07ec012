"""Majority-vote consolidation of Ground Truth worker annotations (pure, standard library only).

Input and output follow the documented post-annotation Lambda contract
(docs.aws.amazon.com/sagemaker/latest/dg/sms-custom-templates-step3-lambda-requirements.html):
the payload file is a list of ``{"datasetObjectId", "dataObject", "annotations": [{"workerId",
"annotationData": {"content": "<JSON string>"}}]}``; the answer is a list of ``{"datasetObjectId",
"consolidatedAnnotation": {"content": {<labelAttributeName>: {...}}}}``.

Rules, so two runs on the same payload always agree:
- a worker's answer is ``content[answer_field]["label"]`` (what ``crowd-classifier name=...`` submits);
- a worker who submitted nothing (no field, or an empty label) is ignored, and counted;
- a malformed annotation (not JSON, wrong shape, label outside the job's categories) is reported with
  its worker and reason inside the object's result, never dropped silently and never counted as a vote;
- the label with most votes wins; a tie goes to the category listed first in ``labelCategories``
  (the job's own order), or to the smallest label string when the job sends no categories;
- confidence = winning votes / valid votes; an object without a valid vote gets label ``None``
  (status ``no-valid-answer``), so it is returned, visible, and can be sent to workers again.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ANSWER_FIELD = "category"
ANSWER_KEY = DEFAULT_ANSWER_FIELD


class PayloadError(ValueError):
    """The request or payload as a whole is unusable: nothing can be consolidated from it."""


@dataclass(frozen=True)
class ConsolidationRequest:
    """The fields of the post-annotation request that consolidation needs."""

    label_attribute_name: str
    payload_uri: str
    label_categories: tuple[str, ...] | None
    labeling_job_arn: str | None


@dataclass
class ObjectResult:
    """One data object's consolidated label, with the evidence behind it."""

    dataset_object_id: str
    label: str | None
    confidence: float
    votes: dict[str, int]
    no_answer: list[str] = field(default_factory=list)
    malformed: list[dict[str, str]] = field(default_factory=list)
    tie: bool = False

    @property
    def status(self) -> str:
        return "consolidated" if self.label is not None else "no-valid-answer"


def parse_request(event: Any) -> ConsolidationRequest:
    """Read the documented request; a missing labelAttributeName or payload.s3Uri is a PayloadError."""
    if not isinstance(event, dict):
        raise PayloadError("request is not a JSON object")
    name = event.get("labelAttributeName")
    payload = event.get("payload")
    uri = payload.get("s3Uri") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name:
        raise PayloadError("request has no labelAttributeName")
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise PayloadError("request has no payload.s3Uri (s3://bucket/key)")
    categories = event.get("labelCategories")
    cats = tuple(str(c) for c in categories) if isinstance(categories, list) and categories else None
    return ConsolidationRequest(name, uri, cats, event.get("labelingJobArn"))


def read_answer(annotation: Any, answer_field: str, categories: tuple[str, ...] | None) -> tuple[str, str | None]:
    """Classify one worker annotation: ("vote", label), ("no_answer", None) or ("malformed", reason)."""
    if not isinstance(annotation, dict):
        return "malformed", "annotation is not an object"
    data = annotation.get("annotationData")
    content = data.get("content") if isinstance(data, dict) else None
    if not isinstance(content, str):
        return "malformed", "annotationData.content is missing (annotations stored at s3Uri are not read)"
    try:
        answer = json.loads(content)
    except json.JSONDecodeError as error:
        return "malformed", f"annotationData.content is not JSON ({error.msg} at char {error.pos})"
    if not isinstance(answer, dict):
        return "malformed", "annotationData.content is not a JSON object"
    chosen = answer.get(answer_field)
    if chosen is None or chosen == {} or (isinstance(chosen, dict) and chosen.get("label") in (None, "")):
        return "no_answer", None
    label = chosen.get("label") if isinstance(chosen, dict) else None
    if not isinstance(label, (str, int)) or isinstance(label, bool):
        return "malformed", f"{answer_field}.label is not a string"
    label = str(label)
    if categories is not None and label not in categories:
        return "malformed", f"{answer_field}.label is not one of the job's labelCategories"
    return "vote", label


def consolidate_object(item: dict, answer_field: str, categories: tuple[str, ...] | None) -> ObjectResult:
    """Majority vote over one object's annotations (see the module rules)."""
    votes: Counter[str] = Counter()
    no_answer: list[str] = []
    malformed: list[dict[str, str]] = []
    annotations = item.get("annotations")
    if not isinstance(annotations, list):
        malformed.append({"workerId": "", "reason": "annotations is not a list"})
        annotations = []
    for annotation in annotations:
        worker = str(annotation.get("workerId", "")) if isinstance(annotation, dict) else ""
        kind, value = read_answer(annotation, answer_field, categories)
        if kind == "vote":
            votes[value] += 1  # type: ignore[index]
        elif kind == "no_answer":
            no_answer.append(worker)
        else:
            malformed.append({"workerId": worker, "reason": value or ""})
    object_id = str(item["datasetObjectId"])
    if not votes:
        return ObjectResult(object_id, None, 0.0, {}, no_answer, malformed)
    top = max(votes.values())
    leaders = [label for label, count in votes.items() if count == top]
    order = {c: i for i, c in enumerate(categories or ())}
    winner = min(leaders, key=lambda label: (order.get(label, len(order)), label))
    return ObjectResult(object_id, winner, top / sum(votes.values()), dict(sorted(votes.items())),
                        no_answer, malformed, tie=len(leaders) > 1)


def consolidate(items: Any, request: ConsolidationRequest, answer_field: str = DEFAULT_ANSWER_FIELD) -> tuple[list[dict], list[dict]]:
    """Consolidate the whole payload: (response entries, problems for the log).

    An entry without a datasetObjectId cannot be answered; it is reported in problems by position.
    """
    if not isinstance(items, list):
        raise PayloadError("payload file is not a JSON list of data objects")
    response: list[dict] = []
    problems: list[dict] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("datasetObjectId") in (None, ""):
            problems.append({"index": index, "reason": "payload entry has no datasetObjectId"})
            continue
        result = consolidate_object(item, answer_field, request.label_categories)
        for bad in result.malformed:
            problems.append({"datasetObjectId": result.dataset_object_id, **bad})
        response.append(response_entry(result, request.label_attribute_name))
    return response, problems


def response_entry(result: ObjectResult, label_attribute_name: str) -> dict:
    """The documented response shape for one object; the evidence travels in the output manifest."""
    return {
        "datasetObjectId": result.dataset_object_id,
        "consolidatedAnnotation": {"content": {label_attribute_name: {
            "label": result.label,
            "confidence": round(result.confidence, 4),
            "status": result.status,
            "votes": result.votes,
            "tie": result.tie,
            "noAnswerWorkers": result.no_answer,
            "malformedAnnotations": result.malformed,
        }}},
    }
