"""Feed a channel's files to xgboost's QuantileDMatrix through a DataIter.

QuantileDMatrix walks an iterator several times (4 passes in xgboost 3.2: count, sketch, index...).
Re-parsing CSV on each pass would double or quadruple load time, so chunks are kept from the first
pass while they fit in a memory budget; past the budget the cache is dropped and every pass streams
the files again. Either way no float64 copy and no whole-data second copy is ever made, and the
float32 cache is released as soon as the quantized matrix exists (about 1/4 of its size at 256 bins).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import xgboost as xgb

from data_sources import CSV, Chunk, read_chunks
from sm_contract import TrainingError


def label_checker(objective: str, num_class: int | None) -> Callable[[np.ndarray], str | None]:
    """A function returning why a label array is invalid for the objective, or None."""
    def check(y: np.ndarray) -> str | None:
        if np.isnan(y).any():
            return "a label is missing (NaN)"
        lo, hi = float(y.min()), float(y.max())
        if objective in ("binary:logistic", "binary:logitraw", "binary:hinge", "reg:logistic"):
            if lo < 0 or hi > 1:
                return f"label range [{lo:g}, {hi:g}] is outside [0, 1] required by {objective}"
        elif objective.startswith("multi:"):
            if lo < 0 or hi >= num_class or not np.all(y == np.floor(y)):
                return f"labels must be integers in [0, {num_class - 1}] for {objective} (saw [{lo:g}, {hi:g}])"
        elif objective == "reg:gamma" and lo <= 0:
            return f"labels must be > 0 for {objective} (min {lo:g})"
        elif objective in ("reg:tweedie", "count:poisson") and lo < 0:
            return f"labels must be >= 0 for {objective} (min {lo:g})"
        elif objective == "reg:squaredlogerror" and lo <= -1:
            return f"labels must be > -1 for {objective} (min {lo:g})"
        return None
    return check


class ChannelIter(xgb.DataIter):
    """Iterates a channel's chunks, caching them on the first pass while within `cache_bytes`."""

    def __init__(self, name: str, files: list[Path], content_type: str,
                 check_label: Callable[[np.ndarray], str | None], cache_bytes: int,
                 csv_weights: bool = False) -> None:
        self.name, self.files, self._type = name, files, content_type
        self._check, self._budget = check_label, cache_bytes
        self._weights = csv_weights and content_type == CSV
        self._cache: list[Chunk] | None = []
        self._cached_bytes = 0
        self._complete = False
        self._stream: Iterator[Chunk] | None = None
        self._pos = 0
        self.n_rows = 0
        self.n_features: int | None = None
        self.streamed_passes = 0
        super().__init__(release_data=True)

    def _chunks(self) -> Iterator[Chunk]:
        self.streamed_passes += 1
        for path in self.files:
            for chunk in read_chunks(path, self._type):
                yield self._validate(chunk, path)

    def _validate(self, chunk: Chunk, path: Path) -> Chunk:
        if self._weights:
            chunk = Chunk(label=chunk.label, weight=np.ascontiguousarray(chunk.features[:, 0]),
                          features=np.ascontiguousarray(chunk.features[:, 1:]))
        width = chunk.features.shape[1]
        if self.n_features is None:
            self.n_features = width
        elif width != self.n_features and self._type != "libsvm":
            raise TrainingError(f"{self.name}/{path.name}: {width} features, expected {self.n_features}")
        problem = self._check(chunk.label)
        if problem:
            raise TrainingError(f"{self.name}/{path.name}: {problem}")
        return chunk

    def reset(self) -> None:
        self._pos = 0
        self._stream = None

    def next(self, input_data: Callable) -> bool:
        if self._complete:
            if self._pos >= len(self._cache):
                return False
            chunk = self._cache[self._pos]
            self._pos += 1
        else:
            if self._stream is None:
                self._stream = self._chunks()
                self.n_rows = 0
            chunk = next(self._stream, None)
            if chunk is None:
                self._complete = self._cache is not None
                # Hand pyarrow's parse buffers back to the OS before xgboost's sketch needs memory.
                pa.default_memory_pool().release_unused()
                return False
            self.n_rows += len(chunk.label)
            self._keep(chunk)
        input_data(data=chunk.features, label=chunk.label, weight=chunk.weight)
        return True

    def _keep(self, chunk: Chunk) -> None:
        if self._cache is None:
            return
        feats = chunk.features
        size = chunk.label.nbytes + (
            feats.nbytes if isinstance(feats, np.ndarray)
            else feats.data.nbytes + feats.indices.nbytes + feats.indptr.nbytes  # scipy CSR
        )
        if self._cached_bytes + size > self._budget:
            # Over budget: drop what is cached and stream from the files on every later pass.
            self._cache, self._cached_bytes = None, 0
            return
        self._cache.append(chunk)
        self._cached_bytes += size

    def release(self) -> None:
        """Free the cached chunks once the QuantileDMatrix is built."""
        self._cache, self._complete, self._stream = None, False, None


def sampled_cuts(it: ChannelIter, ratio: float, max_bin: int) -> xgb.QuantileDMatrix | None:
    """Quantile cuts from every 1/ratio-th row, to pass as `ref=` so the full matrix skips its sketch.

    Reads the channel once into the cache first; returns None (use the exact sketch) when the data
    does not fit the cache budget or is sparse. On dense data the sketch is ~1/3 of quantization time.
    """
    it.reset()
    while it.next(lambda **_: None):
        pass
    if not it._complete or not isinstance(it._cache[0].features, np.ndarray):
        return None
    step = max(1, round(1 / ratio))
    sample = np.concatenate([chunk.features[::step] for chunk in it._cache])
    return xgb.QuantileDMatrix(sample, max_bin=max_bin)


def available_memory_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux); a conservative 2 GiB elsewhere."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2 << 30


def build_matrix(it: ChannelIter, *, max_bin: int, ref: xgb.DMatrix | None = None) -> xgb.QuantileDMatrix:
    """Quantize a channel; validation/test pass `ref=` the training matrix to share its cuts."""
    try:
        matrix = xgb.QuantileDMatrix(it, max_bin=max_bin, ref=ref)
    except xgb.core.XGBoostError as err:
        # A TrainingError raised inside next() is re-raised by xgboost after the C++ call unwinds.
        cause = err.__cause__ or err.__context__
        if isinstance(cause, TrainingError):
            raise cause from None
        raise TrainingError(f"{it.name}: {str(err).splitlines()[0][:300]}") from None
    finally:
        it.release()
    if matrix.num_row() == 0:
        raise TrainingError(f"channel {it.name} has no rows")
    return matrix


def build_plain_matrix(it: ChannelIter) -> xgb.DMatrix:
    """An in-memory DMatrix of a whole channel, for what QuantileDMatrix cannot train (tree_method
    exact or approx, booster gblinear). Holds the float32 rows once (plus xgboost's copy)."""
    import scipy.sparse as sp

    chunks = list(it._chunks())
    if not chunks:
        raise TrainingError(f"channel {it.name} has no rows")
    labels = np.concatenate([c.label for c in chunks])
    weights = None if any(c.weight is None for c in chunks) else np.concatenate([c.weight for c in chunks])
    if all(isinstance(c.features, np.ndarray) for c in chunks):
        data = np.concatenate([c.features for c in chunks])
    else:
        width = max(c.features.shape[1] for c in chunks)
        data = sp.vstack([sp.csr_matrix(c.features, shape=(c.features.shape[0], width)) for c in chunks]).tocsr()
    del chunks
    return xgb.DMatrix(data, label=labels, weight=weights)
