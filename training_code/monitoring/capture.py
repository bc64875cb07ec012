"""Read an endpoint's data capture (JSON Lines as SageMaker writes it) into one window of rows.

SageMaker writes `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<time>-<id>.jsonl`, one
line per captured invocation:

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                        "data": "...", "encoding": "CSV" | "JSON" | "BASE64"},
                     "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                        "data": "...", "encoding": "..."}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<caller's id, optional>",
                       "inferenceTime": "2026-12-01T21:00:00Z"},
     "eventVersion": "0"}

A request may hold several rows; each row is one observation. A line that cannot be used (bad
JSON, missing parts, bad base64, wrong column count, outputs not matching inputs) is counted by
reason, its first examples are kept with file and line number, and its neighbours are unaffected.
"""
from __future__ import annotations

import json
import multiprocessing
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from monitoring.columns import CHUNK_ROWS, Column, ColumnBuilder
from monitoring.payload import MalformedRecord, payload_text, request_rows, response_values

MAX_EXAMPLES = 20


@dataclass
class CaptureWindow:
    """The usable rows of a window plus what was refused and why."""

    builder: ColumnBuilder
    collect_keys: bool = True                          # only model quality needs them
    pending: list = field(default_factory=list)        # rows not yet converted (< CHUNK_ROWS)
    rows: int = 0
    predictions: list = field(default_factory=list)    # one score per row, None without output
    keys: list = field(default_factory=list)           # (record key, row index in the record)
    records_read: int = 0
    records_used: int = 0
    records_outside_window: int = 0
    malformed: Counter = field(default_factory=Counter)
    examples: list = field(default_factory=list)

    def refuse(self, where: str, error: MalformedRecord) -> None:
        self.malformed[error.reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{where}: {error}")

    @property
    def malformed_records(self) -> int:
        return sum(self.malformed.values())

    @property
    def n_features(self) -> int:
        return len(self.builder.names)

    def flush(self) -> None:
        self.builder.add(self.pending)
        self.pending = []

    def merge(self, part: "CaptureWindow") -> None:
        """Append a window read from later files (see `read_window(workers=...)`)."""
        self.builder.merge(part.builder)
        self.rows += part.rows
        self.predictions.extend(part.predictions)
        self.keys.extend(part.keys)
        self.records_read += part.records_read
        self.records_used += part.records_used
        self.records_outside_window += part.records_outside_window
        self.malformed.update(part.malformed)
        self.examples = (self.examples + part.examples)[:MAX_EXAMPLES]

    def columns(self) -> list[Column]:
        """The window's columns (call once, after reading)."""
        self.flush()
        return self.builder.finish()


def capture_files(root: Path) -> list[Path]:
    """Every capture file under `root` (a file or a folder, searched recursively), in name order."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json", ".out")
                  and not p.name.startswith("."))


def parse_time(text) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:  # Python 3.10 (the processing image) does not read a trailing "Z"
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def read_window(paths: list[Path], names: list[str], since: datetime | None = None,
                until: datetime | None = None, *, string_features: frozenset = frozenset(),
                collect_keys: bool = True, workers: int = 1) -> CaptureWindow:
    """All rows captured in [since, until) from `paths` (records without a time are kept).

    With `workers` > 1 the files are split into that many contiguous groups read by separate
    processes (parsing is CPU-bound Python), then merged in file order: same result, faster.
    """
    args = (names, since, until, string_features, collect_keys)
    if workers <= 1 or len(paths) < 2:
        return _read_files(paths, *args)
    groups = [list(g) for g in np.array_split(np.array(paths, dtype=object), min(workers, len(paths)))]
    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    with ProcessPoolExecutor(max_workers=len(groups), mp_context=context) as pool:
        parts = list(pool.map(_read_files, groups, *[[a] * len(groups) for a in args]))
    window = parts[0]
    for part in parts[1:]:
        window.merge(part)
    return window


def _read_files(paths, names, since, until, string_features, collect_keys) -> CaptureWindow:
    window = CaptureWindow(ColumnBuilder(names, string_features), collect_keys=collect_keys)
    for path in paths:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                if raw.strip():
                    window.records_read += 1
                    try:
                        _add_record(window, raw, since, until)
                    except MalformedRecord as error:
                        window.refuse(f"{path.name}:{number}", error)
                    if len(window.pending) >= CHUNK_ROWS:
                        window.flush()
    window.flush()
    return window


def _add_record(window: CaptureWindow, raw: bytes, since, until) -> None:
    try:
        record = json.loads(raw)
        capture, meta = record["captureData"], record.get("eventMetadata") or {}
        request = capture["endpointInput"]
    except (ValueError, KeyError, TypeError):
        raise MalformedRecord("not a capture record (JSON with captureData.endpointInput)") from None
    if since is not None or until is not None:
        moment = parse_time(meta.get("inferenceTime"))
        if moment is not None and ((since and moment < since) or (until and moment >= until)):
            window.records_outside_window += 1
            return
    rows = request_rows(*payload_text(request))
    for row in rows:
        width = row.count(",") + 1 if isinstance(row, str) else len(row)
        if width != window.n_features:
            raise MalformedRecord("column count differs from the baseline",
                                  f"{width} columns, baseline has {window.n_features}")
    scores: list = [None] * len(rows)
    if capture.get("endpointOutput"):
        scores = response_values(*payload_text(capture["endpointOutput"]), len(rows))
        if len(scores) != len(rows):
            raise MalformedRecord("response rows differ from request rows",
                                  f"{len(scores)} predictions for {len(rows)} rows")
    window.pending.extend(rows)
    window.rows += len(rows)
    window.predictions.extend(scores)
    if window.collect_keys:
        key = str(meta.get("inferenceId") or meta.get("eventId") or f"record-{window.records_read}")
        window.keys.extend((key, index) for index in range(len(rows)))
    window.records_used += 1
