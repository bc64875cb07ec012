"""The active-learning loop, locally: the state machine's sequence with its own step code.

Each round runs the Lambda steps (active_learning_steps: prepare, select, merge) on an in-memory run
prefix, and in between the jobs the state machine would start: `training_code/train.py` as the training
job, `training_code/inference.py` as the batch transform, and simulated workers as the labeling jobs
(consolidated by the real consolidation function). So the rehearsal exercises exactly the code and
the file formats that run in AWS.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import al_model
import numpy as np
from al_annotators import SimulatedWorkforce

from active_learning_select import MODEL, LabelRecord
from active_learning_steps import RunSettings, merge, prepare, select
from active_learning_store import MemoryStore


@dataclass
class RoundReport:
    """One round's figures; `auto_correct` is scored against the truth afterwards."""

    round: int
    threshold: float | None
    held_out: int
    held_out_accuracy: float | None
    auto_labeled: int
    auto_correct: int
    human_objects: int
    human_tasks: int
    unlabeled_left: int


@dataclass
class LoopResult:
    labels: dict[str, LabelRecord]
    rounds: list[RoundReport] = field(default_factory=list)
    stopped_because: str = ""


def run_loop(features: np.ndarray, truth: Sequence[str], workforce: SimulatedWorkforce, settings: RunSettings,
             work_dir: Path, num_round: int = 60) -> LoopResult:
    """Label every row of `features` (ids are row numbers); `truth` only plays the humans' part and
    scores the report, never the model's decisions."""
    store = MemoryStore()
    store.write("pool/features.csv", "".join(
        f"{i}," + ",".join(f"{v:.9g}" for v in row) + "\n" for i, row in enumerate(features)))
    truth_by_id = {str(i): label for i, label in enumerate(truth)}
    result = LoopResult(labels={})
    tasks_spent = 0
    for number in range(settings.max_rounds):
        step = prepare(store, settings, number)
        if step["trainable"]:
            _model_jobs(store, step, settings, work_dir / f"round-{number}", num_round)
        chosen = select(store, settings, number)
        outputs = []
        for name, per_object in (("uncertain", settings.workers_per_object),
                                 ("held-out", settings.held_out_workers_per_object)):
            manifest = store.read(f"rounds/{number}/humans/{name}.manifest") or ""
            if manifest.strip():
                key = f"rounds/{number}/humans/{name}-output.manifest"
                store.write(key, workforce.labeling_job(manifest, truth_by_id, per_object,
                                                        settings.label_attribute_name, f"al-{number}-{name}"))
                outputs.append(store.uri(key))
        merged = merge(store, settings, number, outputs)
        result.rounds.append(RoundReport(
            number, chosen["threshold"], chosen["heldOut"], chosen.get("heldOutAccuracy"), chosen["autoLabeled"], 0,
            chosen["uncertainCount"] + chosen["heldOutCount"], merged["humanTasksSpent"] - tasks_spent,
            merged["unlabeled"]))
        tasks_spent = merged["humanTasksSpent"]
        if merged["done"]:
            result.stopped_because = merged["reason"]
            break
    result.labels = _final_labels(store)
    for report in result.rounds:
        report.auto_correct = sum(r.label == truth_by_id[i] for i, r in result.labels.items()
                                  if r.source == MODEL and r.round == report.round)
    return result


def _model_jobs(store: MemoryStore, step: dict, settings: RunSettings, root: Path, num_round: int) -> None:
    """The training job on the round's train channel, then the batch transform on its input."""
    base = f"rounds/{step['round']}/"
    train = np.loadtxt(io.StringIO(store.read(base + "train/train.csv") or ""), delimiter=",", ndmin=2)
    hp = al_model.hyperparameters(len(settings.classes), num_round, settings.seed)
    model_dir = al_model.train(root, train[:, 1:], train[:, 0], hp)
    rows = np.loadtxt(io.StringIO(store.read(base + "predict/input.csv") or ""), delimiter=",", ndmin=2)
    lines = al_model.batch_transform(model_dir, rows)
    store.write(base + "predict-output/input.csv.out", "".join(line + "\n" for line in lines))


def _final_labels(store: MemoryStore) -> dict[str, LabelRecord]:
    import json

    rows = [json.loads(line) for line in (store.read("state/labels.jsonl") or "").splitlines() if line.strip()]
    return {r["id"]: LabelRecord(r["label"], r["source"], r["confidence"], r["round"]) for r in rows}
