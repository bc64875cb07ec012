"""The post-annotation Lambda on the documented request and payload shapes (S3 under moto)."""
from __future__ import annotations

import json

import pytest


def _by_id(response: list[dict], attribute: str = "is-fraud") -> dict[str, dict]:
    return {r["datasetObjectId"]: r["consolidatedAnnotation"]["content"][attribute] for r in response}


def test_every_object_comes_back_keyed_by_label_attribute(consolidation, s3_with_payload, load_event):
    # GIVEN the documented request and a payload of six objects
    request = load_event("labeling_post_annotation_request.json")
    # WHEN Ground Truth invokes the function
    response = consolidation.handler(request, None, client=s3_with_payload)
    # THEN each datasetObjectId is answered once, in payload order, under labelAttributeName only
    assert [r["datasetObjectId"] for r in response] == ["0", "1", "2", "3", "4", "5"]
    assert all(set(r["consolidatedAnnotation"]["content"]) == {"is-fraud"} for r in response)
    json.dumps(response)  # the answer must serialise as Lambda returns it


def test_majority_wins_with_agreement_as_confidence(consolidation, s3_with_payload, load_event):
    # GIVEN a unanimous object and a 2:1 disagreement
    results = _by_id(consolidation.handler(load_event("labeling_post_annotation_request.json"), None,
                                           client=s3_with_payload))
    # THEN the majority label wins and confidence is the winner's share of valid votes
    assert results["0"]["label"] == "1" and results["0"]["confidence"] == 1.0
    assert results["1"]["label"] == "0" and results["1"]["confidence"] == pytest.approx(0.6667)
    assert results["1"]["votes"] == {"0": 2, "1": 1} and results["1"]["tie"] is False


def test_tie_goes_to_first_listed_category_every_time(consolidation, s3_with_payload, load_event):
    # GIVEN one vote for "1" and one for "0", with labelCategories ["0", "1"]
    request = load_event("labeling_post_annotation_request.json")
    first = _by_id(consolidation.handler(request, None, client=s3_with_payload))["2"]
    # WHEN the payload arrives with the annotations in the opposite order
    items = load_event("labeling_post_annotation_payload.json")
    items[2]["annotations"].reverse()
    s3_with_payload.put_payload(items)
    second = _by_id(consolidation.handler(request, None, client=s3_with_payload))["2"]
    # THEN the tie rule picks the job's first category regardless of order, and says it was a tie
    assert first["label"] == second["label"] == "0"
    assert first["tie"] is True and first["confidence"] == 0.5


def test_tie_without_categories_goes_to_smallest_label(consolidation, s3_with_payload, load_event):
    request = load_event("labeling_post_annotation_request.json")
    request.pop("labelCategories")  # jobs created from the console send null
    items = load_event("labeling_post_annotation_payload.json")
    items[2]["annotations"] = [{"workerId": "a", "annotationData": {"content": '{"category": {"label": "zeta"}}'}},
                               {"workerId": "b", "annotationData": {"content": '{"category": {"label": "alpha"}}'}}]
    s3_with_payload.put_payload(items)
    assert _by_id(consolidation.handler(request, None, client=s3_with_payload))["2"]["label"] == "alpha"


def test_workers_without_an_answer_are_ignored_not_counted(consolidation, s3_with_payload, load_event):
    # GIVEN one real vote and two empty submissions ("{}" and an empty label)
    results = _by_id(consolidation.handler(load_event("labeling_post_annotation_request.json"), None,
                                           client=s3_with_payload))
    # THEN the one vote decides with full confidence, and the silent workers are listed
    assert results["3"]["label"] == "0" and results["3"]["confidence"] == 1.0
    assert results["3"]["noAnswerWorkers"] == ["private.eu-west-1.w1", "private.eu-west-1.w3"]
    assert results["3"]["malformedAnnotations"] == []


def test_malformed_annotations_are_reported_and_never_vote(consolidation, s3_with_payload, load_event, capsys):
    # GIVEN truncated JSON from w1 and a label outside the categories from w3
    results = _by_id(consolidation.handler(load_event("labeling_post_annotation_request.json"), None,
                                           client=s3_with_payload))
    # THEN only w2's vote counts, and both problems travel in the result and in the log
    assert results["4"]["label"] == "1" and results["4"]["votes"] == {"1": 1}
    reasons = {m["workerId"]: m["reason"] for m in results["4"]["malformedAnnotations"]}
    assert reasons["private.eu-west-1.w1"].startswith("annotationData.content is not JSON")
    assert "labelCategories" in reasons["private.eu-west-1.w3"]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    rejected = [entry for entry in logged if entry["message"] == "annotation_rejected"]
    assert {(e["datasetObjectId"], e["workerId"]) for e in rejected} == {
        ("4", "private.eu-west-1.w1"), ("4", "private.eu-west-1.w3")}


def test_object_nobody_answered_is_returned_without_label(consolidation, s3_with_payload, load_event):
    results = _by_id(consolidation.handler(load_event("labeling_post_annotation_request.json"), None,
                                           client=s3_with_payload))
    assert results["5"]["label"] is None and results["5"]["status"] == "no-valid-answer"
    assert results["5"]["confidence"] == 0.0


def test_entry_without_id_is_reported_and_neighbours_kept(consolidation, s3_with_payload, load_event, capsys):
    # GIVEN a payload whose second entry has no datasetObjectId
    items = load_event("labeling_post_annotation_payload.json")
    items.insert(1, {"annotations": []})
    s3_with_payload.put_payload(items)
    # WHEN consolidated
    response = consolidation.handler(load_event("labeling_post_annotation_request.json"), None, client=s3_with_payload)
    # THEN the six real objects are answered and the broken entry is logged by position
    assert [r["datasetObjectId"] for r in response] == ["0", "1", "2", "3", "4", "5"]
    assert any('"index": 1' in line for line in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("body, reason", [
    (b"not json at all", "is not JSON"),
    ({"datasetObjectId": "0"}, "is not a JSON list"),
])
def test_unusable_payload_file_fails_the_batch_with_a_reason(consolidation, s3_with_payload, load_event, body, reason):
    s3_with_payload.put_payload(body)
    with pytest.raises(ValueError, match=reason):
        consolidation.handler(load_event("labeling_post_annotation_request.json"), None, client=s3_with_payload)


@pytest.mark.parametrize("drop, reason", [("labelAttributeName", "labelAttributeName"), ("payload", "payload.s3Uri")])
def test_request_missing_a_documented_field_is_refused(consolidation, load_event, drop, reason):
    request = load_event("labeling_post_annotation_request.json")
    request.pop(drop)
    with pytest.raises(ValueError, match=reason):
        consolidation.handler(request, None, client=object())
