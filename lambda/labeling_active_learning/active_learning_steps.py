"""The three steps the active-learning state machine runs between its SageMaker jobs, on a Store:

  prepare(n): write round n's training channel (human labels, held-out slice excluded) and the batch
              transform input (held-out slice + unlabelled pool); say whether a model can be trained.
  select(n):  read the transform output, calibrate on the held-out slice, accept the pool's labels
              above the threshold, and write the Ground Truth manifests for the humans' batch.
  merge(n):   read the labeling jobs' output manifests, merge the human labels, decide whether to go on.

Human tasks are reserved when a batch is sent (objects x workers per object), so the budget holds
even if a job is stopped half way. The model never trains on its own labels.

The held-out slice must look like the pool that is left, which gets harder each round as its
confident part is accepted: a held-out object that a round's threshold would have accepted retires
from the slice (into the training data), and each human batch adds fresh random objects from the
current pool. Calibrating on the original, easy slice instead accepted labels 5 points below target
in late rounds of the digits rehearsal.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

from active_learning_select import (
    HUMAN,
    MODEL,
    LabelRecord,
    calibrate_threshold,
    choose_human_batch,
    merge_labels,
    model_label,
    parse_prediction_line,
    split_by_threshold,
)
from active_learning_store import Store


class StepError(ValueError):
    """A step cannot run: bad settings or missing run files; the message names which."""


@dataclass(frozen=True)
class RunSettings:
    """The run's settings (from config, passed in the state machine's input)."""

    classes: tuple[str, ...]
    target_accuracy: float = 0.95
    confidence_level: float = 0.9
    initial_batch: int = 200
    batch_size: int = 100
    held_out_share: float = 0.3
    min_covered: int = 10
    calibration_band: int = 20
    human_task_budget: int | None = None
    workers_per_object: int = 3
    held_out_workers_per_object: int = 5
    max_rounds: int = 12
    label_attribute_name: str = "label"
    seed: int = 7

    @classmethod
    def from_event(cls, raw: Any) -> "RunSettings":
        if not isinstance(raw, dict) or not raw.get("classes"):
            raise StepError("settings.classes: at least two class labels are required")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise StepError(f"settings: unknown field(s) {', '.join(unknown)}")
        settings = cls(**{**raw, "classes": tuple(str(c) for c in raw["classes"])})
        if len(set(settings.classes)) < 2:
            raise StepError("settings.classes: at least two distinct class labels are required")
        if not 0 < settings.target_accuracy < 1:
            raise StepError("settings.target_accuracy: must be in (0, 1)")
        return settings


def prepare(store: Store, settings: RunSettings, round_number: int) -> dict:
    """Write the round's training channel and transform input; `trainable` false skips both jobs."""
    pool, order = _pool(store)
    labels, progress = _labels(store), _progress(store)
    held_out = set(progress["held_out"])
    train_ids = [i for i in order if i in labels and labels[i].source == HUMAN and i not in held_out]
    covered = {labels[i].label for i in train_ids}
    trainable = bool(held_out) and covered == set(settings.classes)
    base = f"rounds/{round_number}/"
    targets = [i for i in order if i in held_out or i not in labels]
    if trainable:
        index = {c: n for n, c in enumerate(settings.classes)}
        store.write(base + "train/train.csv", "".join(f"{index[labels[i].label]},{pool[i]}\n" for i in train_ids))
        store.write(base + "predict/input.csv", "".join(pool[i] + "\n" for i in targets))
        store.write(base + "predict-ids.json", json.dumps(targets))
    return {"round": round_number, "trainable": trainable, "trainRows": len(train_ids) if trainable else 0,
            "predictRows": len(targets) if trainable else 0, "trainUri": store.uri(base + "train/"),
            "predictUri": store.uri(base + "predict/"), "predictOutputUri": store.uri(base + "predict-output/")}


def select(store: Store, settings: RunSettings, round_number: int) -> dict:
    """Accept confident model labels, then write the humans' manifests for this round."""
    pool, order = _pool(store)
    labels, progress = _labels(store), _progress(store)
    held_out = set(progress["held_out"])
    base = f"rounds/{round_number}/"
    candidates = {i: 0.0 for i in order if i not in labels}
    summary: dict[str, Any] = {"round": round_number, "threshold": None, "heldOut": len(held_out), "autoLabeled": 0}
    output = store.read(base + "predict-output/input.csv.out")
    if output is not None:
        ids = json.loads(store.read(base + "predict-ids.json") or "[]")
        lines = output.splitlines()
        if len(lines) != len(ids):
            raise StepError(f"{base}predict-output: {len(lines)} predictions for {len(ids)} input rows")
        predictions = {i: model_label(parse_prediction_line(line), settings.classes) for i, line in zip(ids, lines, strict=True)}
        pool_conf = [c for i, (_lab, c) in predictions.items() if i not in labels]
        calibration = calibrate_threshold([predictions[i][1] for i in held_out],
                                          [predictions[i][0] == labels[i].label for i in held_out],
                                          settings.target_accuracy, settings.confidence_level, settings.min_covered,
                                          settings.calibration_band, pool_conf)
        accepted, rest = split_by_threshold({i: p for i, p in predictions.items() if i not in labels},
                                            calibration.threshold)
        labels = merge_labels(labels, ((i, LabelRecord(lab, MODEL, c, round_number)) for i, (lab, c) in accepted.items()))
        # Held-out objects that this threshold would have accepted no longer look like the pool that is
        # left (its confident part is gone): they retire from the slice and become training data.
        if calibration.threshold is not None:
            retired = {i for i in held_out if predictions[i][1] >= calibration.threshold}
            progress["held_out"] = sorted(held_out - retired)
            progress["retired"] = progress.get("retired", 0) + len(retired)
        candidates = {i: c for i, (_lab, c) in rest.items()}
        summary |= {"threshold": calibration.threshold, "heldOutAccuracy": calibration.accuracy,
                    "heldOutLowerBound": calibration.lower_bound, "autoLabeled": len(accepted)}
    uncertain, held = _human_batch(candidates, settings, progress, round_number)
    records = _records(store)
    for name, ids in (("uncertain", uncertain), ("held-out", held)):
        store.write(base + f"humans/{name}.manifest", "".join(
            json.dumps({"source": records.get(i) or json.dumps({"features": pool[i]}), "object-id": i}) + "\n"
            for i in ids))
    progress["human_tasks"] += len(uncertain) * settings.workers_per_object + len(held) * settings.held_out_workers_per_object
    progress["pending_held_out"] = held
    _save(store, labels, progress)
    return summary | {"uncertainCount": len(uncertain), "heldOutCount": len(held),
                      "uncertainManifestUri": store.uri(base + "humans/uncertain.manifest"),
                      "heldOutManifestUri": store.uri(base + "humans/held-out.manifest"),
                      "humanTasksSpent": progress["human_tasks"], "unlabeled": len(order) - len(labels)}


def merge(store: Store, settings: RunSettings, round_number: int, output_manifest_uris: list[str]) -> dict:
    """Merge the labeling jobs' consolidated labels; objects without a valid label stay in the pool."""
    _pool_ids, order = _pool(store)
    labels, progress = _labels(store), _progress(store)
    attr = settings.label_attribute_name
    humans: list[tuple[str, LabelRecord]] = []
    for uri in output_manifest_uris:
        for line in store.read_uri(uri).splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            result = entry.get(attr)
            if isinstance(result, dict) and result.get("label") is not None:
                humans.append((str(entry["object-id"]),
                               LabelRecord(str(result["label"]), HUMAN, float(result.get("confidence", 1.0)), round_number)))
    labels = merge_labels(labels, humans)
    progress["held_out"] = sorted(set(progress["held_out"]) | {i for i in progress.pop("pending_held_out", []) if i in labels})
    _save(store, labels, progress)
    unlabeled = len(order) - len(labels)
    reason = _stop_reason(settings, progress, unlabeled, round_number + 1)
    return {"round": round_number + 1, "humanLabeled": len(humans), "unlabeled": unlabeled,
            "humanTasksSpent": progress["human_tasks"], "done": reason is not None, "reason": reason or ""}


def _stop_reason(settings: RunSettings, progress: dict, unlabeled: int, next_round: int) -> str | None:
    if unlabeled == 0:
        return "every object labeled"
    if _affordable(1, settings, progress) == 0:
        return "human-task budget spent"
    if next_round >= settings.max_rounds:
        return f"max_rounds ({settings.max_rounds}) reached"
    return None


def _human_batch(candidates: dict[str, float], settings: RunSettings, progress: dict, round_number: int
                 ) -> tuple[list[str], list[str]]:
    if round_number == 0 or not progress["held_out"]:
        # Before any model: a random batch, `held_out_share` of it becomes the held-out slice.
        size = _affordable(settings.initial_batch, settings, progress)
        _none, seed = choose_human_batch(candidates, size, 1.0, settings.seed + round_number)
        cut = max(1, round(len(seed) * settings.held_out_share)) if seed else 0
        return seed[cut:], seed[:cut]
    size = _affordable(settings.batch_size, settings, progress)
    return choose_human_batch(candidates, size, settings.held_out_share, settings.seed + round_number)


def _affordable(size: int, settings: RunSettings, progress: dict) -> int:
    """How many objects the remaining budget pays for (at the dearer held-out rate)."""
    if settings.human_task_budget is None:
        return size
    per_object = max(settings.workers_per_object, settings.held_out_workers_per_object)
    return max(0, min(size, (settings.human_task_budget - progress["human_tasks"]) // per_object))


def _pool(store: Store) -> tuple[dict[str, str], list[str]]:
    text = store.read("pool/features.csv")
    if text is None:
        raise StepError(f"{store.uri('pool/features.csv')} is missing: the objects to label")
    pool: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            object_id, _sep, features = line.partition(",")
            if not object_id or not features or object_id in pool:
                raise StepError(f"pool/features.csv line {number}: needs a unique id, then features")
            pool[object_id] = features
    return pool, list(pool)


def _records(store: Store) -> dict[str, str]:
    text = store.read("pool/records.jsonl") or ""
    return {str(r["id"]): json.dumps(r["record"]) for r in map(json.loads, filter(str.strip, text.splitlines()))}


def _labels(store: Store) -> dict[str, LabelRecord]:
    text = store.read("state/labels.jsonl") or ""
    out = {}
    for row in map(json.loads, filter(str.strip, text.splitlines())):
        out[row["id"]] = LabelRecord(row["label"], row["source"], row["confidence"], row["round"])
    return out


def _progress(store: Store) -> dict:
    return json.loads(store.read("state/progress.json") or '{"held_out": [], "human_tasks": 0}')


def _save(store: Store, labels: dict[str, LabelRecord], progress: dict) -> None:
    store.write("state/labels.jsonl", "".join(
        json.dumps({"id": i, "label": r.label, "source": r.source, "confidence": r.confidence, "round": r.round}) + "\n"
        for i, r in labels.items()))
    store.write("state/progress.json", json.dumps(progress))
