"""numpy-facing wrappers of the compiled evaluator: the CSV parser and the tree walker.

Same answers as the numpy code they stand in for (serving_codec's CSV path, serving_trees.Forest):
the tests run every prediction test against both.
"""
from __future__ import annotations

import ctypes

import numpy as np

import serving_native
from serving_trees import Forest

_TRANSFORM_CODES = {"identity": 0, "sigmoid": 1, "exp": 2, "softmax": 3, "argmax": 4}
COLUMNS_ERROR, CELL_ERROR = 1, 2


class CsvError(ValueError):
    """A CSV body the parser refused: ``kind`` (COLUMNS_ERROR, CELL_ERROR), 0-based row, column."""

    def __init__(self, kind: int, row: int, column: int):
        super().__init__(kind, row, column)
        self.kind, self.row, self.column = kind, row, column


def csv_parser():
    """A function (body, delimiter, n_features) -> float32 rows, or None without the library."""
    lib, _ = serving_native.try_load()
    if lib is None:
        return None
    parse = lib.csv_parse

    def parse_csv(body: bytes, delimiter: bytes, n_features: int) -> np.ndarray:
        rows = body.count(b"\n") + 1
        out = np.empty((rows, n_features), np.float32)
        error = np.zeros(2, np.int64)
        errp = error.ctypes.data
        code = parse(body, len(body), delimiter, n_features, rows, out.ctypes.data, errp, errp + 8)
        if code:
            raise CsvError(code, int(error[0]), int(error[1]))
        return out

    return parse_csv


class NativeForest:
    """A Forest evaluated by the compiled walker; ``predict`` answers as ``Forest.predict``."""

    kind = "compiled"

    def __init__(self, forest: Forest, lib: ctypes.CDLL):
        self.forest = forest
        self._fn = lib.forest_predict
        tree_group = np.empty(forest.roots.size, np.int64)
        for group, trees in enumerate(forest.group_trees):
            tree_group[trees] = group
        # Kept as attributes: the pointers below are only valid while these arrays live.
        self._arrays = [np.ascontiguousarray(a) for a in (
            forest.feature.astype(np.int64), forest.threshold.astype(np.float32),
            forest.left.astype(np.int64), forest.value.astype(np.float32),
            forest.roots.astype(np.int64), tree_group, forest.base_margin.astype(np.float32))]
        self._pointers = [a.ctypes.data for a in self._arrays]
        self._groups = int(forest.base_margin.size)
        self._transform = _TRANSFORM_CODES[forest.transform]
        self._trees = int(forest.roots.size)

    @property
    def n_features(self) -> int:
        return self.forest.n_features

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions shaped like ``Booster.inplace_predict`` for float32 rows (NaN = missing)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        rows, width = x.shape
        if width != self.forest.n_features:
            raise ValueError(f"rows have {width} columns, the model {self.forest.n_features}")
        feature, threshold, left, value, roots, group, base = self._pointers
        argmax = self._transform == 4
        out = np.empty((rows, 1 if argmax else self._groups), np.float32)
        margin = np.empty((rows, self._groups), np.float32)
        self._fn(x.ctypes.data, rows, width, feature, threshold, left, value, roots, group,
                 self._trees, base, self._groups, self._transform, out.ctypes.data,
                 margin.ctypes.data)
        return out[:, 0] if out.shape[1] == 1 else out
