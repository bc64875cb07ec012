"""Feed a channel's files to xgboost's QuantileDMatrix through a DataIter.

QuantileDMatrix walks an iterator four times in xgboost 3.2 (shape, sketch, index, columns).
Re-parsing CSV on each walk would multiply load time, so the first walk parses the files and
appends every chunk to a spill file (spill.ChunkSpill: an unnamed temporary file on the training
volume, float32 as parsed) while within a size budget; later walks read one chunk at a time back.
The process so holds one or two chunks, never the whole channel, beside xgboost's sketch and
quantized matrix. Past the budget (or with the disk full) every walk streams the files again.
No float64 copy and no whole-data copy is ever made in memory.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import xgboost as xgb

import columnar
from data_sources import CSV, Chunk, read_chunks
from sm_contract import TrainingError
from spill import ChunkSpill


def _libc_trim() -> Callable[[], None]:
    """glibc's malloc_trim(0), or a no-op where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


# Between walks xgboost frees large working sets (the sketch: ~150 MB on 1M x 50) in many blocks that
# glibc keeps in its heaps; the next walk's allocations (the quantized index) then come on top of them.
# Handing the freed heap pages back at the start of each walk measured 40-50 MB off the peak.
trim_heap = _libc_trim()


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
        elif objective in ("reg:gamma", "survival:aft") and lo <= 0:
            return f"labels must be > 0 for {objective} (min {lo:g})"
        elif objective in ("reg:tweedie", "count:poisson") and lo < 0:
            return f"labels must be >= 0 for {objective} (min {lo:g})"
        elif objective == "reg:squaredlogerror" and lo <= -1:
            return f"labels must be > -1 for {objective} (min {lo:g})"
        return None
    return check


class ChannelIter(xgb.DataIter):
    """Iterates a channel's chunks; the first walk keeps them in a spill file of at most `cache_bytes`.

    `cache_bytes=0` streams the files on every walk. `spill_dir` is the preferred folder of the
    spill file (the training volume); the system's temporary folder otherwise.
    """

    def __init__(self, name: str, files: list[Path], content_type: str,
                 check_label: Callable[[np.ndarray], str | None], cache_bytes: int,
                 csv_weights: bool = False, interval_labels: bool = False, spill_dir: Path | None = None) -> None:
        self.name, self.files, self._type = name, files, content_type
        # survival:aft reads label bounds; one label column means exact (uncensored) times.
        self.interval_labels = interval_labels
        self._check, self._budget, self._spill_dir = check_label, cache_bytes, spill_dir
        self._weights = csv_weights and content_type == CSV
        self._spill: ChunkSpill | None = None
        self._spilling = cache_bytes > 0
        self._complete = False
        self._stream: Iterator[Chunk] | None = None
        self._pos = 0
        self.n_rows = 0
        self.n_features: int | None = None
        self.streamed_passes = 0
        super().__init__(release_data=True)

    def _chunks(self) -> Iterator[Chunk]:
        """The channel's chunks, parsed on a read-ahead thread while xgboost consumes the previous ones."""
        self.streamed_passes += 1
        return columnar.read_ahead(self._parsed())

    def _parsed(self) -> Iterator[Chunk]:
        for path in self.files:
            for chunk in read_chunks(path, self._type):
                yield self._validate(chunk, path)

    def _validate(self, chunk: Chunk, path: Path) -> Chunk:
        if self._weights:
            chunk = _split_weight(chunk)
        width = chunk.features.num_columns if isinstance(chunk.features, pa.Table) else chunk.features.shape[1]
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

    def kept_chunks(self) -> Iterator[Chunk]:
        """The spilled chunks, read back one at a time (after a complete first walk)."""
        for position in range(len(self._spill) if self._complete and self._spill else 0):
            label, weight, features = self._spill.read(position)
            yield Chunk(label=label, features=features, weight=weight)

    def next(self, input_data: Callable) -> bool:
        if self._pos == 0 and self._stream is None:
            trim_heap()  # a new walk: xgboost has freed the previous walk's working memory
        if self._complete:
            if self._pos >= len(self._spill):
                return False
            label, weight, features = self._spill.read(self._pos)
            chunk = Chunk(label=label, features=features, weight=weight)
            self._pos += 1
        else:
            if self._stream is None:
                self._stream = self._chunks()
                self.n_rows = 0
            chunk = next(self._stream, None)
            if chunk is None:
                self._complete = self._spill is not None and self._spilling
                # Hand pyarrow's parse buffers back to the OS before xgboost's sketch needs memory.
                pa.default_memory_pool().release_unused()
                return False
            self.n_rows += len(chunk.label)
            self._keep(chunk)
        bounds = {"label_lower_bound": chunk.label, "label_upper_bound": chunk.label} if self.interval_labels else {}
        input_data(data=chunk.features, label=chunk.label, weight=chunk.weight, **bounds)
        return True

    def _keep(self, chunk: Chunk) -> None:
        if not self._spilling:
            return
        try:
            if self._spill is None:
                self._spill = ChunkSpill(self._budget, self._spill_dir)
            if self._spill.append(chunk.label, chunk.weight, chunk.features):
                return
        except OSError as err:
            # Disk full or unwritable: nothing is lost, the later walks read the files again.
            print(f"{self.name}: cannot keep parsed rows in a spill file ({err}); re-reading the files "
                  "on each pass", file=sys.stderr, flush=True)
        # Over budget: stream from the files on every later walk.
        self._drop_spill()

    def _drop_spill(self) -> None:
        if self._spill is not None:
            self._spill.close()
        self._spill, self._spilling = None, False

    def release(self) -> None:
        """Delete the spill file once the QuantileDMatrix is built."""
        self._drop_spill()
        self._complete, self._stream = False, None


def _split_weight(chunk: Chunk) -> Chunk:
    """csv_weights=1: the first feature column is the instance weight."""
    feats = chunk.features
    if isinstance(feats, pa.Table):
        weight = np.asarray(feats.column(0).to_numpy(), dtype=np.float32)
        return Chunk(label=chunk.label, weight=weight, features=feats.remove_column(0))
    return Chunk(label=chunk.label, weight=np.ascontiguousarray(feats[:, 0]),
                 features=np.ascontiguousarray(feats[:, 1:]))


def _every(features, step: int) -> np.ndarray:
    if isinstance(features, pa.Table):
        return columnar.dense(features.take(np.arange(0, features.num_rows, step)))
    return features[::step]


def sampled_cuts(it: ChannelIter, ratio: float, max_bin: int) -> xgb.QuantileDMatrix | None:
    """Quantile cuts from every 1/ratio-th row, to pass as `ref=` so the full matrix skips its sketch.

    Reads the channel once into the spill file first; returns None (use the exact sketch) when the
    data does not fit the budget or is sparse. On dense data the sketch is ~1/3 of quantization time.
    """
    it.reset()
    while it.next(lambda **_: None):
        pass
    step = max(1, round(1 / ratio))
    parts = []
    for chunk in it.kept_chunks():
        if not isinstance(chunk.features, (np.ndarray, pa.Table)):
            return None
        parts.append(_every(chunk.features, step))
    if not parts:
        return None
    return xgb.QuantileDMatrix(np.concatenate(parts), max_bin=max_bin)


def available_memory_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux); a conservative 2 GiB elsewhere."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2 << 30


def free_disk_bytes(directory: Path) -> int:
    """Free space of the volume holding `directory` (or the system's temporary folder if it is absent)."""
    import shutil
    import tempfile

    target = directory if directory.is_dir() else Path(tempfile.gettempdir())
    return shutil.disk_usage(target).free


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
    if not any(sp.issparse(c.features) for c in chunks):
        data = np.concatenate([columnar.dense(c.features) for c in chunks])
    else:
        width = max(c.features.shape[1] for c in chunks)
        data = sp.vstack([sp.csr_matrix(c.features, shape=(c.features.shape[0], width)) for c in chunks]).tocsr()
    del chunks
    matrix = xgb.DMatrix(data, label=labels, weight=weights)
    if it.interval_labels:
        matrix.set_float_info("label_lower_bound", labels)
        matrix.set_float_info("label_upper_bound", labels)
    return matrix
