"""Arrow batches as training chunks, without a column-to-row copy, read ahead of the consumer.

xgboost takes an Arrow table as columnar input (each float32 column read in place), so a CSV or
Parquet batch needs no row-major copy: batches are regrouped into CHUNK_ROWS-row tables whose
columns are one contiguous buffer each (one memcpy per column; xgboost would otherwise combine the
chunks on every pass). The label column becomes a numpy array. `read_ahead` parses the next chunks
on a thread while xgboost sketches the current one (pyarrow and xgboost both release the GIL).
"""
from __future__ import annotations

import queue
import threading
from typing import Iterator

import numpy as np
import pyarrow as pa

from sm_contract import TrainingError

CHUNK_ROWS = 65536


def regroup(batches: Iterator[pa.RecordBatch], n_cols: int, source: str) -> Iterator[tuple[np.ndarray, pa.Table]]:
    """(label, feature table) per CHUNK_ROWS rows (the last may be shorter) from float32 batches."""
    if n_cols < 2:
        raise TrainingError(f"{source}: needs a label column and at least one feature column")
    pending: list[pa.RecordBatch] = []
    rows = 0

    def emit() -> tuple[np.ndarray, pa.Table]:
        table = pa.Table.from_batches(pending).combine_chunks()
        label = table.column(0).to_numpy()
        return np.asarray(label, dtype=np.float32), table.remove_column(0)

    for batch in batches:
        if batch.num_columns != n_cols:
            raise TrainingError(f"{source}: {batch.num_columns} columns, expected {n_cols}")
        while batch.num_rows:
            take = min(CHUNK_ROWS - rows, batch.num_rows)
            pending.append(batch.slice(0, take))
            batch, rows = batch.slice(take), rows + take
            if rows == CHUNK_ROWS:
                yield emit()
                pending, rows = [], 0
    if rows:
        yield emit()


def dense(features) -> np.ndarray:
    """A float32 row-major array of a chunk's features (Arrow table, numpy array or scipy CSR)."""
    if isinstance(features, pa.Table):
        return np.column_stack([col.to_numpy() for col in features.columns]).astype(np.float32, copy=False)
    if isinstance(features, np.ndarray):
        return features
    out = np.full(features.shape, np.nan, np.float32)  # libsvm: an absent entry is missing, not 0
    out[np.repeat(np.arange(features.shape[0]), np.diff(features.indptr)), features.indices] = features.data
    return out


def nbytes(features) -> int:
    if isinstance(features, pa.Table):
        return features.nbytes
    if isinstance(features, np.ndarray):
        return features.nbytes
    return features.data.nbytes + features.indices.nbytes + features.indptr.nbytes  # scipy CSR


_DONE = object()


def read_ahead(items: Iterator, depth: int = 2) -> Iterator:
    """Yield `items`, produced up to `depth` ahead on a worker thread; its exceptions re-raise here."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(_DONE)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which re-raises it
            slots.put(err)

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
