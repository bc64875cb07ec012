"""Ground Truth post-annotation (consolidation) Lambda for the platform's custom labeling task.

Handler `handler.handler`. Ground Truth invokes it with the documented request (labelAttributeName,
payload.s3Uri, optional labelCategories); it reads the workers' annotations from payload.s3Uri,
consolidates each object by majority vote (consolidation_vote.py) and returns one entry per
datasetObjectId. Malformed annotations are logged (one WARNING line each, with worker and reason)
and also returned inside the object's result, so the output manifest keeps them.

Settings (environment variables, optional): ANSWER_FIELD (default "category", the crowd-classifier
`name` in the worker template).
"""
from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import unquote, urlparse

import boto3

from consolidation_vote import DEFAULT_ANSWER_FIELD, PayloadError, consolidate, parse_request

_s3 = None


def s3_client():
    """One S3 client per execution environment, created on first use (tests swap in moto)."""
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    return _s3


def read_payload(uri: str, client) -> Any:
    """The JSON document at s3://bucket/key; an unreadable document is a PayloadError."""
    parsed = urlparse(uri)
    body = client.get_object(Bucket=parsed.netloc, Key=unquote(parsed.path.lstrip("/")))["Body"].read()
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise PayloadError(f"payload file {uri} is not JSON ({error.msg} at char {error.pos})") from None


def handler(event: dict, context: Any, client=None) -> list[dict]:
    """Consolidate one batch of annotations; raises PayloadError when the batch itself is unusable
    (Ground Truth retries and then fails the objects with that reason, which is the truthful outcome)."""
    request = parse_request(event)
    items = read_payload(request.payload_uri, client or s3_client())
    response, problems = consolidate(items, request, os.environ.get("ANSWER_FIELD", DEFAULT_ANSWER_FIELD))
    for problem in problems:
        _log("WARNING", "annotation_rejected", labelingJobArn=request.labeling_job_arn, **problem)
    _log("INFO", "consolidation_summary", labelingJobArn=request.labeling_job_arn, objects=len(response),
         rejected=len(problems), without_label=sum(
             1 for r in response
             if r["consolidatedAnnotation"]["content"][request.label_attribute_name]["label"] is None))
    return response


def _log(level: str, message: str, **fields: Any) -> None:
    print(json.dumps({"level": level, "message": message, **fields}, default=str), flush=True)
