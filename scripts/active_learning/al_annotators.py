"""Simulated Ground Truth workers: their answers come out in the documented annotation shape and go
through the real consolidation function, so the rehearsal's human labels are consolidated exactly as
a labeling job would consolidate them.

Each worker has their own accuracy, drawn around `accuracy` with spread `disagreement` (0 = all
workers equally good); a wrong answer is a uniformly random other class. A share of submissions is
empty (`no_answer_rate`) or malformed (`malformed_rate`, truncated JSON), as real portals produce.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from consolidation_vote import ANSWER_KEY, ConsolidationRequest, consolidate


@dataclass(frozen=True)
class WorkforceSettings:
    """How the simulated private workforce behaves (all seeded)."""

    workers: int = 12
    workers_per_object: int = 3
    accuracy: float = 0.9
    disagreement: float = 0.05
    no_answer_rate: float = 0.02
    malformed_rate: float = 0.01
    seed: int = 11


class SimulatedWorkforce:
    """A seeded pool of workers who label objects and whose answers are consolidated by majority vote."""

    def __init__(self, settings: WorkforceSettings, classes: Sequence[str]) -> None:
        self.settings = settings
        self.classes = list(classes)
        self.rng = np.random.default_rng(settings.seed)
        spread = self.rng.normal(settings.accuracy, settings.disagreement, settings.workers)
        self.worker_accuracy = np.clip(spread, 1.0 / len(classes), 1.0)
        self.tasks_done = 0

    def payload(self, object_ids: Sequence[str], truth: Sequence[str], per_object: int | None = None) -> list[dict]:
        """The consolidation payload Ground Truth would write for these objects."""
        s = self.settings
        per_object = per_object or s.workers_per_object
        items = []
        for object_id, true_label in zip(object_ids, truth, strict=True):
            chosen = self.rng.choice(s.workers, size=min(per_object, s.workers), replace=False)
            annotations = [{"workerId": f"private.sim.worker-{w:03d}",
                            "annotationData": {"content": self._answer(int(w), true_label)}} for w in chosen]
            self.tasks_done += len(annotations)
            items.append({"datasetObjectId": object_id, "dataObject": {"content": object_id},
                          "annotations": annotations})
        return items

    def labeling_job(self, manifest: str, truth: dict[str, str], per_object: int, label_attribute: str,
                     job_name: str) -> str:
        """A labeling job on an input manifest: the output manifest Ground Truth writes, each input line
        plus `<label_attribute>` (the consolidation function's content) and its `-metadata`."""
        lines = [json.loads(line) for line in manifest.splitlines() if line.strip()]
        ids = [str(line["object-id"]) for line in lines]
        request = ConsolidationRequest(label_attribute, "s3://simulated/payload.json", tuple(self.classes), None)
        response, _problems = consolidate(self.payload(ids, [truth[i] for i in ids], per_object), request, ANSWER_KEY)
        by_id = {r["datasetObjectId"]: r["consolidatedAnnotation"]["content"][label_attribute] for r in response}
        metadata = {"job-name": f"labeling-job/{job_name}", "type": "groundtruth/custom",
                    "human-annotated": "yes", "creation-date": "2026-12-01T00:00:00.000000"}
        return "".join(json.dumps(line | {label_attribute: by_id[i], f"{label_attribute}-metadata": metadata}) + "\n"
                       for line, i in zip(lines, ids, strict=True))

    def _answer(self, worker: int, true_label: str) -> str:
        s = self.settings
        draw = self.rng.random()
        if draw < s.no_answer_rate:
            return "{}"
        if draw < s.no_answer_rate + s.malformed_rate:
            return '{"' + ANSWER_KEY + '": {"label": '  # truncated submission
        label = true_label
        if self.rng.random() >= self.worker_accuracy[worker]:
            label = str(self.rng.choice([c for c in self.classes if c != true_label]))
        return json.dumps({ANSWER_KEY: {"label": label}})
