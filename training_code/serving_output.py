"""Response encoding as the built-in XGBoost algorithm answers (see TRAINING.md, Serving).

- No Accept, or ``*/*``: SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, else ``text/csv``.
- ``text/csv``: the predictions joined by ``,`` on one line (SAGEMAKER_BATCH=true: one line per
  record, ending in a newline). Class probabilities (multi:softprob) are one line per record.
- ``application/json``: ``{"predictions": [{"score": 0.48}, ...]}``; softprob ``{"score": [..]}``.
- ``application/jsonlines``: one ``{"score": ...}`` object per line.
- SAGEMAKER_INFERENCE_OUTPUT (``predicted_label,probability``, ...): those keys per record
  instead of the score, in JSON, JSON Lines or CSV (a list value as ``"[0.1, 0.9]"``).
Numbers are written as Python writes the float32 value widened to double (``0.4812...``), as the
built-in's ``str(value)`` and ``json.dumps`` do. Content types carry the charset the built-in
sends (``text/csv; charset=utf-8``; JSON types without one).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from serving_codec import CSV, JSON, JSONLINES, RequestError, media_type

SUPPORTED_RESPONSE_TYPES = (CSV, JSON, JSONLINES)
_CONTENT_TYPES = {CSV: "text/csv; charset=utf-8", JSON: JSON, JSONLINES: JSONLINES}
_ACCEPT_ALIASES = {"csv": CSV, "json": JSON, "jsonlines": JSONLINES,
                   "application/x-jsonlines": JSONLINES, "application/jsonl": JSONLINES}
SELECTABLE_KEYS = ("predicted_label", "labels", "probability", "probabilities", "raw_score",
                   "raw_scores", "predicted_score")
_CLASSIFIER_KEYS = ("predicted_label", "labels", "raw_score", "raw_scores")
# Which keys each objective can answer (the built-in's table; regression objectives it lacks
# answer predicted_score too).
_KEYS_BY_OBJECTIVE = {
    "binary:logistic": _CLASSIFIER_KEYS + ("probability", "probabilities"),
    "multi:softprob": _CLASSIFIER_KEYS + ("probability", "probabilities"),
    "binary:logitraw": _CLASSIFIER_KEYS, "binary:hinge": _CLASSIFIER_KEYS,
    "multi:softmax": _CLASSIFIER_KEYS,
}


class OutputConfigError(ValueError):
    """SAGEMAKER_INFERENCE_OUTPUT names keys this model cannot answer (refused at model load)."""


@dataclass(frozen=True)
class OutputSpec:
    """How to write predictions of one model: its objective, classes, selected keys, batch mode."""

    objective: str
    num_class: int = 0
    selected: tuple[str, ...] = ()
    batch: bool = False


def output_spec(env: dict, objective: str, num_class: int) -> OutputSpec:
    """The spec for a model from SAGEMAKER_INFERENCE_OUTPUT and SAGEMAKER_BATCH."""
    raw = env.get("SAGEMAKER_INFERENCE_OUTPUT") or ""
    selected = tuple(key for key in raw.replace(" ", "").lower().split(",") if key)
    allowed = _KEYS_BY_OBJECTIVE.get(objective)
    if allowed is None and objective.startswith(("reg:", "count:", "survival:")):
        allowed = ("predicted_score",)
    unknown = [key for key in selected if key not in SELECTABLE_KEYS]
    if unknown:
        raise OutputConfigError(f"SAGEMAKER_INFERENCE_OUTPUT: unknown key(s) {', '.join(unknown)}; "
                                f"use {', '.join(SELECTABLE_KEYS)}")
    wrong = [key for key in selected if key not in (allowed or ())]
    if wrong:
        raise OutputConfigError(f"SAGEMAKER_INFERENCE_OUTPUT: objective {objective} cannot answer "
                                f"{', '.join(wrong)}; it answers {', '.join(allowed or ()) or 'none'}")
    batch = (env.get("SAGEMAKER_BATCH") or "").strip().lower() in ("true", "1", "yes")
    return OutputSpec(objective, num_class, selected, batch)


def choose_accept(accept: str | None, default: str = CSV) -> str:
    """Pick the response type from an Accept header (first supported entry wins)."""
    for item in (accept or "").split(","):
        kind, _ = media_type(item)
        kind = _ACCEPT_ALIASES.get(kind, kind)
        if kind in SUPPORTED_RESPONSE_TYPES:
            return kind
        if kind in ("*/*", ""):
            return _ACCEPT_ALIASES.get(default, default)
        if kind in ("application/*", "text/*"):
            return JSON if kind == "application/*" else CSV
    raise RequestError(406, f"cannot answer as {accept!r}; accept one of "
                            f"{', '.join(SUPPORTED_RESPONSE_TYPES)}")


def encode(predictions: np.ndarray, accept: str, spec: OutputSpec) -> tuple[bytes, str]:
    """(body, Content-Type) for ``predictions`` (what Predictor.predict returned)."""
    if spec.selected:
        body = _encode_selected(predictions, accept, spec)
    elif accept == CSV:
        body = _csv(predictions, spec.batch)
    else:
        values = predictions.tolist()
        if accept == JSON:
            if len(values) == 1 and predictions.ndim == 1:  # the hot path: one row
                body = '{"predictions": [{"score": %r}]}' % values[0]
            else:
                body = json.dumps({"predictions": [{"score": v} for v in values]})
        else:
            body = "".join(json.dumps({"score": v}) + "\n" for v in values)
    return body.encode(), _CONTENT_TYPES[accept]


def _csv(predictions: np.ndarray, batch: bool) -> str:
    values = predictions.tolist()
    if predictions.ndim == 2:  # class probabilities: one record per line
        return "".join(",".join(map(repr, row)) + "\n" for row in values)
    if batch:
        return "".join(f"{v!r}\n" for v in values)
    return ",".join(map(repr, values))


def _selected_values(prediction, spec: OutputSpec) -> dict:
    objective = spec.objective
    out = {}
    for key in spec.selected:
        if key == "labels":
            out[key] = [0, 1] if objective.startswith("binary:") else list(range(spec.num_class))
        elif objective == "multi:softprob":
            out[key] = {"predicted_label": int(np.argmax(prediction)), "probability": max(prediction),
                        "probabilities": prediction, "raw_score": max(prediction),
                        "raw_scores": prediction}[key]
        elif key == "predicted_label":
            if objective == "binary:logistic":
                out[key] = int(prediction > 0.5)
            elif objective == "binary:logitraw":
                out[key] = int(prediction > 0)
            else:  # binary:hinge, multi:softmax answer the label itself
                out[key] = prediction
        elif key in ("probabilities", "raw_scores"):
            out[key] = [1.0 - prediction, prediction]
        else:  # probability, raw_score, predicted_score: the value itself
            out[key] = prediction
    return out


def _encode_selected(predictions: np.ndarray, accept: str, spec: OutputSpec) -> str:
    records = [_selected_values(p, spec) for p in predictions.tolist()]
    if accept == JSON:
        return json.dumps({"predictions": records})
    if accept == JSONLINES:
        return "".join(json.dumps(r) + "\n" for r in records)
    lines = "\n".join(",".join(f'"{r[k]}"' if isinstance(r[k], list) else str(r[k])
                               for k in spec.selected) for r in records)
    return lines + "\n" if spec.batch else lines
