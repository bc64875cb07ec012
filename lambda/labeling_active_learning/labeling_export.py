"""A finished labeling job's output manifest -> rows of the `labeled_events` table (JSON lines).

The store is rooted at the curated zone's `labeled/tables/`. Each labelled object becomes its record
(the manifest's `source`, parsed when it is one JSON object, else `{"source": ...}`) plus `label`,
`label_confidence` and `labeling_job`, in `labeled_events/<job>.jsonl` (the Glue table's location,
ml_platform/constructs/labeling/labeled_table.py); objects the job could not label go to
`labeling_rejects/<job>.jsonl` (outside the table) with Ground Truth's failure reason, so nothing is
lost between the job and the table. Exporting a job again rewrites its two files.
"""
from __future__ import annotations

import json
from typing import Any

from active_learning_store import Store

TABLE_FOLDER, REJECTS_FOLDER = "labeled_events", "labeling_rejects"


def export_output_manifest(store: Store, manifest_uri: str, job_name: str, label_attribute: str) -> dict[str, Any]:
    labelled, unlabelled = [], []
    for number, line in enumerate(store.read_uri(manifest_uri).splitlines(), 1):
        if not line.strip():
            continue
        entry = json.loads(line)
        record = _record(entry)
        result = entry.get(label_attribute)
        if isinstance(result, dict) and result.get("label") is not None:
            labelled.append(record | {"label": result["label"], "label_confidence": result.get("confidence"),
                                      "labeling_job": job_name})
        else:
            meta = entry.get(f"{label_attribute}-metadata") or {}
            unlabelled.append(record | {"labeling_job": job_name, "manifest_line": number,
                                        "reason": meta.get("failure-reason") or "no valid answer"})
    rows, rejects = f"{TABLE_FOLDER}/{job_name}.jsonl", f"{REJECTS_FOLDER}/{job_name}.jsonl"
    store.write(rows, "".join(json.dumps(r) + "\n" for r in labelled))
    store.write(rejects, "".join(json.dumps(r) + "\n" for r in unlabelled))
    return {"jobName": job_name, "labeled": len(labelled), "unlabeled": len(unlabelled),
            "tableUri": store.uri(rows), "rejectsUri": store.uri(rejects)}


def _record(entry: dict) -> dict:
    source = entry.get("source", entry.get("source-ref"))
    if isinstance(source, str):
        try:
            parsed = json.loads(source)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    return {"source": source}
