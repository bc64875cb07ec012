"""Active learning's decisions, as pure functions (standard library only, so the same code runs in
the state machine's Lambda step and in the local rehearsal).

- `model_label`: a model's label and confidence from what our batch transform returns per row
  (binary:logistic gives P(class 1); multi:softprob gives one probability per class).
- `calibrate_threshold`: the lowest confidence threshold at which the model's labels on a held-out,
  human-labeled slice reach the target accuracy, judged by a one-sided Wilson lower bound rather than
  the raw fraction (so a small slice cannot talk the threshold down by luck), and also on the band of
  held-out objects just above the threshold (what is left to label sits mostly there).
- `split_by_threshold` / `choose_human_batch`: accept what clears the threshold; of the rest, send the
  least confident to humans (they teach the model most), plus a random share that joins the held-out
  slice, so calibration keeps seeing objects drawn like the ones the model labels.
- `merge_labels`: one label per object with its provenance; a human label replaces a model label,
  anything else labelled twice is a conflict and refused.
"""
from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Iterable, Mapping, Sequence

HUMAN, MODEL = "human", "model"


@dataclass(frozen=True)
class Calibration:
    """The accepted threshold (None: accept nothing) and the evidence for it on the held-out slice."""

    threshold: float | None
    slice_size: int
    covered: int          # held-out objects at or above the threshold
    accuracy: float       # the model's accuracy on those
    lower_bound: float    # Wilson lower bound of that accuracy at the configured confidence level


@dataclass(frozen=True)
class LabelRecord:
    """One object's final label and where it came from."""

    label: str
    source: str           # HUMAN or MODEL
    confidence: float
    round: int


def parse_prediction_line(line: str) -> float | list[float]:
    """One line of batch-transform CSV output: a probability, or one probability per class."""
    values = [float(v) for v in line.strip().split(",")]
    if not values or any(math.isnan(v) for v in values):
        raise ValueError("prediction line is empty or holds NaN")
    return values[0] if len(values) == 1 else values


def model_label(scores: float | Sequence[float], classes: Sequence[str]) -> tuple[str, float]:
    """(label, confidence) from one prediction row; binary rows are P(classes[1])."""
    if isinstance(scores, (int, float)):
        p = float(scores)
        if len(classes) != 2 or not 0.0 <= p <= 1.0:
            raise ValueError("a single score needs exactly two classes and a probability in [0, 1]")
        return (classes[1], p) if p >= 0.5 else (classes[0], 1.0 - p)
    if len(scores) == 1:
        return model_label(float(scores[0]), classes)
    if len(scores) != len(classes):
        raise ValueError(f"prediction has {len(scores)} scores for {len(classes)} classes")
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))  # ties: the first class
    return classes[best], float(scores[best])


def wilson_lower_bound(correct: int, total: int, confidence_level: float) -> float:
    """One-sided Wilson score lower bound of a proportion (0 when there is no evidence)."""
    if total == 0:
        return 0.0
    z = NormalDist().inv_cdf(confidence_level)
    p = correct / total
    centre = p + z * z / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, (centre - margin) / (1 + z * z / total))


def calibrate_threshold(confidences: Sequence[float], correct: Sequence[bool], target_accuracy: float,
                        confidence_level: float = 0.9, min_covered: int = 10, band: int = 20,
                        pool_confidences: Sequence[float] | None = None) -> Calibration:
    """The lowest threshold at which the held-out slice shows the target accuracy, twice over.

    Scanning down from the most confident: (1) the Wilson lower bound of the accuracy of every
    held-out object at or above the threshold must reach the target, and (2) so must the plain
    accuracy of the `band` least confident of them, the ones just above the threshold. (2) matters
    because the pool left to label is mostly objects near the threshold (the confident ones were
    accepted in earlier rounds), while the slice also holds many easy ones: an average over the
    whole slice would overstate the accuracy of what is accepted now. The scan stops at the first
    band below target (accuracy falls with confidence, so lower thresholds only get worse).
    With `pool_confidences`, (3): the accuracy expected on the pool objects that the threshold
    accepts, each valued at the accuracy of the `band` held-out objects nearest in confidence, must
    reach the target too, which weights the slice as the pool is distributed.
    """
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct differ in length")
    if not 0.0 < target_accuracy < 1.0:
        raise ValueError("target_accuracy must be in (0, 1)")
    ranked = sorted(zip(confidences, correct, strict=True), key=lambda pair: -pair[0])
    best = Calibration(None, len(ranked), 0, 0.0, 0.0)
    hits = 0
    for index, (confidence, ok) in enumerate(ranked):
        hits += bool(ok)
        covered = index + 1
        if covered < len(ranked) and ranked[covered][0] == confidence:
            continue  # a threshold cannot split equal confidences
        if covered < min_covered:
            continue
        window = ranked[max(0, covered - band):covered]
        if sum(bool(w[1]) for w in window) < target_accuracy * len(window):
            break
        bound = wilson_lower_bound(hits, covered, confidence_level)
        if bound >= target_accuracy and (
                pool_confidences is None
                or _expected_pool_accuracy(ranked, pool_confidences, confidence, band) >= target_accuracy):
            best = Calibration(confidence, len(ranked), covered, hits / covered, bound)
    return best


def _expected_pool_accuracy(ranked: list[tuple[float, bool]], pool: Sequence[float], threshold: float,
                            band: int) -> float:
    """Mean, over pool objects at or above `threshold`, of the held-out accuracy among the `band`
    held-out objects nearest to each in confidence (1.0 when the threshold accepts nothing)."""
    ascending = ranked[::-1]
    keys = [c for c, _ok in ascending]
    prefix = [0]
    for _c, ok in ascending:
        prefix.append(prefix[-1] + bool(ok))
    k = min(band, len(ascending))
    total, count = 0.0, 0
    for c in pool:
        if c < threshold:
            continue
        # the k-wide window of held-out confidences around c, clamped to the slice's ends
        start = min(max(0, bisect.bisect_left(keys, c) - k // 2), len(ascending) - k)
        total += (prefix[start + k] - prefix[start]) / k
        count += 1
    return total / count if count else 1.0


def split_by_threshold(predictions: Mapping[str, tuple[str, float]], threshold: float | None
                       ) -> tuple[dict[str, tuple[str, float]], dict[str, tuple[str, float]]]:
    """(accepted, rest): objects whose confidence is at or above the threshold, and the others."""
    accepted: dict[str, tuple[str, float]] = {}
    rest: dict[str, tuple[str, float]] = {}
    for object_id, (label, confidence) in predictions.items():
        target = accepted if threshold is not None and confidence >= threshold else rest
        target[object_id] = (label, confidence)
    return accepted, rest


def choose_human_batch(candidates: Mapping[str, float], size: int, random_share: float, seed: int
                       ) -> tuple[list[str], list[str]]:
    """(uncertain, held_out): `size` objects for humans, least confident first plus a random share.

    `candidates` maps object id -> model confidence (use 0 for all before a model exists, which makes
    the whole batch random). The random share becomes held-out calibration data once labelled.
    """
    size = max(0, min(size, len(candidates)))
    rng = random.Random(seed)
    ids = sorted(candidates)
    n_random = min(size, round(size * random_share))
    held_out = sorted(rng.sample(ids, n_random))
    chosen = set(held_out)
    by_doubt = sorted((i for i in ids if i not in chosen), key=lambda i: (candidates[i], i))
    return by_doubt[: size - n_random], held_out


def merge_labels(labels: Mapping[str, LabelRecord], new: Iterable[tuple[str, LabelRecord]]) -> dict[str, LabelRecord]:
    """A new mapping with `new` added; a conflicting second label raises ValueError naming the object."""
    merged = dict(labels)
    for object_id, record in new:
        existing = merged.get(object_id)
        if existing is not None and not (existing.source == MODEL and record.source == HUMAN):
            raise ValueError(f"object {object_id} already has a {existing.source} label from round {existing.round}")
        merged[object_id] = record
    return merged
