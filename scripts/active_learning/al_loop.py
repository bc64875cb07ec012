"""The active-learning loop, locally: the same sequence the labeling state machine runs in AWS.

Each round: train on the human-labelled objects (held-out slice excluded) -> predict the held-out
slice and the unlabelled pool -> calibrate the confidence threshold on the slice for the target
accuracy -> accept the pool's labels above it -> send a batch of the rest to humans (least confident
first, plus a random share that joins the slice) -> merge. It stops when every object is labelled,
the human-task budget is spent, or `max_rounds` is reached. The model never trains on its own labels
(that would feed its mistakes back into it); only humans' labels train it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

import al_model
from active_learning_select import (HUMAN, MODEL, LabelRecord, calibrate_threshold, choose_human_batch,
                                    merge_labels, model_label, parse_prediction_line, split_by_threshold)
from al_annotators import SimulatedWorkforce


@dataclass(frozen=True)
class LoopSettings:
    """What config gives the state machine: target accuracy, budget and batch sizes."""

    target_accuracy: float = 0.95
    confidence_level: float = 0.9
    initial_batch: int = 200
    batch_size: int = 100
    human_task_budget: int | None = None   # worker tasks; None = no limit
    held_out_share: float = 0.3
    # The held-out slice is the yardstick of model accuracy, so its labels get more workers: with 3
    # workers at 90% a consensus label is wrong ~3% of the time, which would cap the measurable
    # accuracy near 97% and stall calibration for any target above it.
    held_out_workers_per_object: int = 5
    min_covered: int = 10
    max_rounds: int = 12
    num_round: int = 60
    seed: int = 7


@dataclass
class RoundReport:
    round: int
    threshold: float | None
    held_out: int
    held_out_accuracy: float
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


def run_loop(features: np.ndarray, truth: Sequence[str], classes: Sequence[str], workforce: SimulatedWorkforce,
             settings: LoopSettings, work_dir: Path) -> LoopResult:
    """Label every object of `features` (ids are row numbers); `truth` only plays the humans' part
    and scores the report, never the model's decisions."""
    ids = [str(i) for i in range(len(features))]
    state = _State(result=LoopResult(labels={}), held_out=set(), candidates={i: 0.0 for i in ids})
    for number in range(settings.max_rounds):
        report = RoundReport(number, None, len(state.held_out), 0.0, 0, 0, 0, 0, 0)
        _model_step(features, truth, classes, settings, work_dir / f"round-{number}", state, report)
        _human_step(truth, workforce, settings, state, report)
        report.unlabeled_left = len(ids) - len(state.result.labels)
        state.result.rounds.append(report)
        if report.unlabeled_left == 0:
            state.result.stopped_because = "every object labeled"
            return state.result
        if _within_budget(1, workforce, settings) == 0:
            state.result.stopped_because = "human-task budget spent"
            return state.result
    state.result.stopped_because = f"max_rounds ({settings.max_rounds}) reached"
    return state.result


@dataclass
class _State:
    result: LoopResult
    held_out: set[str]
    candidates: dict[str, float]   # unlabelled object -> latest model confidence (0 before a model)


def _model_step(features, truth, classes, settings: LoopSettings, root: Path, state: _State,
                report: RoundReport) -> None:
    """Train, predict, calibrate, accept: skipped until humans have labelled every class once."""
    labels = state.result.labels
    trainable = [i for i, r in labels.items() if r.source == HUMAN and i not in state.held_out]
    if not trainable or len({labels[i].label for i in trainable}) < len(classes) or not state.held_out:
        return
    predictions = _predict(features, trainable, state, classes, settings, root)
    calibration = calibrate_threshold(
        [predictions[i][1] for i in state.held_out],
        [predictions[i][0] == labels[i].label for i in state.held_out],
        settings.target_accuracy, settings.confidence_level, settings.min_covered)
    pool = {i: p for i, p in predictions.items() if i not in labels}
    accepted, rest = split_by_threshold(pool, calibration.threshold)
    state.result.labels = merge_labels(labels, (
        (i, LabelRecord(label, MODEL, conf, report.round)) for i, (label, conf) in accepted.items()))
    state.candidates = {i: conf for i, (_label, conf) in rest.items()}
    report.threshold, report.held_out_accuracy = calibration.threshold, calibration.accuracy
    report.auto_labeled = len(accepted)
    report.auto_correct = sum(label == truth[int(i)] for i, (label, _c) in accepted.items())


def _human_step(truth, workforce: SimulatedWorkforce, settings: LoopSettings, state: _State,
                report: RoundReport) -> None:
    """Send a batch to the (simulated) workforce and merge the consolidated labels."""
    if report.round == 0:
        # The first batch is random; `held_out_share` of it becomes the held-out slice.
        size = _within_budget(settings.initial_batch, workforce, settings)
        _none, seed = choose_human_batch(state.candidates, size, 1.0, settings.seed)
        cut = round(len(seed) * settings.held_out_share)
        random_part, uncertain = seed[:cut], seed[cut:]
    else:
        size = _within_budget(settings.batch_size, workforce, settings)
        uncertain, random_part = choose_human_batch(state.candidates, size, settings.held_out_share,
                                                    settings.seed + report.round)
    batch = uncertain + random_part
    tasks_before = workforce.tasks_done
    answers = workforce.label(uncertain, [truth[int(i)] for i in uncertain])
    answers |= workforce.label(random_part, [truth[int(i)] for i in random_part], settings.held_out_workers_per_object)
    # An object nobody answered validly stays in the pool for a later round.
    labelled = {i: (label, conf) for i, (label, conf, _bad) in answers.items() if label is not None}
    state.result.labels = merge_labels(state.result.labels, (
        (i, LabelRecord(label, HUMAN, conf, report.round)) for i, (label, conf) in labelled.items()))
    state.held_out |= {i for i in random_part if i in labelled}
    for i in labelled:
        state.candidates.pop(i, None)
    report.human_objects, report.human_tasks = len(batch), workforce.tasks_done - tasks_before


def _within_budget(size: int, workforce: SimulatedWorkforce, settings: LoopSettings) -> int:
    """How many of `size` objects the remaining budget pays for (at the dearer held-out rate)."""
    if settings.human_task_budget is None:
        return size
    left = settings.human_task_budget - workforce.tasks_done
    per_object = max(workforce.settings.workers_per_object, settings.held_out_workers_per_object)
    return max(0, min(size, left // per_object))


def _predict(features, trainable, state: _State, classes, settings: LoopSettings, root: Path
             ) -> dict[str, tuple[str, float]]:
    """Train on `trainable`, predict the held-out slice and the unlabelled pool."""
    index = {c: n for n, c in enumerate(classes)}
    labels = state.result.labels
    y = np.array([index[labels[i].label] for i in trainable], dtype=float)
    hp = al_model.hyperparameters(len(classes), settings.num_round, settings.seed)
    model_dir = al_model.train(root, features[[int(i) for i in trainable]], y, hp)
    targets = sorted(state.held_out | {str(i) for i in range(len(features))} - set(labels), key=int)
    lines = al_model.batch_transform(model_dir, features[[int(i) for i in targets]])
    return {i: model_label(parse_prediction_line(line), classes) for i, line in zip(targets, lines)}
