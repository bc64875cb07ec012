"""A small-batch tree evaluator: the booster's trees exported to flat numpy arrays.

Why this exists: for one request row, xgboost's own predict costs ~150 µs of fixed overhead
(DMatrix or inplace adapter, thread pool, C-API round trip) while the arithmetic is ~600 node
visits. Exported to arrays, the same trees are evaluated in a handful of vectorized numpy calls.
Large batches stay on xgboost (see serving_model.Predictor), where its C++ loops win.

Layout. Every tree is renumbered breadth-first into one global node array such that the right
child of a split always sits at ``left + 1``. A split node sends a row right iff
``value >= threshold`` (xgboost's rule: ``value < split_condition`` goes left). Missing values
(NaN) follow the node's default direction without any per-node branch: each row is widened to
``[x with NaN->-inf, x with NaN->+inf]`` and a default-left node reads the first copy (-inf
always goes left), a default-right node the second (+inf always goes right). Leaves point to
themselves with a NaN threshold (a comparison with NaN is false), so every tree can be walked a
fixed ``depth`` times. Infinite inputs are rejected before they reach this module.

Categorical splits, non-tree boosters (gblinear, dart) and multi-target trees are refused with
``UnsupportedModel``; the caller then keeps every batch on xgboost.
"""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass

import numpy as np

# Objective -> name of the transform applied to the summed margin (xgboost's PredTransform).
_TRANSFORMS = {
    "reg:squarederror": "identity", "reg:squaredlogerror": "identity",
    "reg:absoluteerror": "identity", "reg:pseudohubererror": "identity",
    "reg:linear": "identity", "binary:logitraw": "identity",
    "rank:pairwise": "identity", "rank:ndcg": "identity", "rank:map": "identity",
    "binary:logistic": "sigmoid", "reg:logistic": "sigmoid",
    "count:poisson": "exp", "reg:gamma": "exp", "reg:tweedie": "exp", "survival:cox": "exp",
    "multi:softprob": "softmax", "multi:softmax": "argmax",
}


class UnsupportedModel(ValueError):
    """The model uses a feature the array evaluator does not implement."""


@dataclass(frozen=True)
class Forest:
    """All trees of one booster as flat arrays (see the module docstring for the layout)."""

    feature: np.ndarray    # int64 [nodes]: column of the widened row this node reads
    threshold: np.ndarray  # float32 [nodes]: go right iff value >= threshold; NaN at leaves
    left: np.ndarray       # int64 [nodes]: left child (right is left + 1); itself at leaves
    value: np.ndarray      # float32 [nodes]: leaf value (0 at splits)
    roots: np.ndarray      # int64 [trees]: root node of each tree
    group_trees: tuple     # per output: int64 array of the trees that add to it, in order
    depth: int
    n_features: int
    transform: str
    base_margin: np.ndarray  # float32 [outputs]; set by calibrate()

    def margin(self, x: np.ndarray) -> np.ndarray:
        """Raw scores [rows, outputs] for float32 rows [rows, n_features] (NaN = missing)."""
        missing = np.isnan(x)
        wide = np.concatenate([np.where(missing, -np.inf, x), np.where(missing, np.inf, x)],
                              axis=1, dtype=np.float32)
        if wide.shape[0] == 1:
            leaves = self._walk_all_nodes(wide)
        else:
            leaves = self._walk_tree_by_tree(wide)
        return self._sum_leaves(self.value[leaves])

    def _sum_leaves(self, leaves: np.ndarray) -> np.ndarray:
        # xgboost starts each output at the base margin and adds tree after tree in float32;
        # a sequential float32 cumsum in the same order reproduces its rounding exactly.
        out = np.empty((leaves.shape[0], self.base_margin.size), np.float64)
        for k, trees in enumerate(self.group_trees):
            terms = np.empty((leaves.shape[0], trees.size + 1), np.float32)
            terms[:, 0] = self.base_margin[k]
            terms[:, 1:] = leaves[:, trees]
            out[:, k] = np.cumsum(terms, axis=1, dtype=np.float32)[:, -1]
        return out

    def _walk_all_nodes(self, wide: np.ndarray) -> np.ndarray:
        # One row: decide every node at once, then each hop down all trees is a single gather.
        step = self.left + (wide[0, self.feature] >= self.threshold)
        node = self.roots
        for _ in range(self.depth):
            node = step[node]
        return node[None, :]

    def _walk_tree_by_tree(self, wide: np.ndarray) -> np.ndarray:
        rows, width = wide.shape
        flat = wide.ravel()
        offset = (np.arange(rows, dtype=np.int64) * width)[:, None]
        node = np.broadcast_to(self.roots, (rows, self.roots.size))
        for _ in range(self.depth):
            right = flat[offset + self.feature[node]] >= self.threshold[node]
            node = self.left[node] + right
        return node

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions shaped like ``Booster.inplace_predict`` for the same rows."""
        margin = self.margin(x)
        if self.transform == "sigmoid":
            out = 1.0 / (1.0 + np.exp(-margin))
        elif self.transform == "exp":
            out = np.exp(margin)
        elif self.transform in ("softmax", "argmax"):
            shifted = np.exp(margin - margin.max(axis=1, keepdims=True))
            out = shifted / shifted.sum(axis=1, keepdims=True)
            if self.transform == "argmax":
                return np.argmax(margin, axis=1).astype(np.float32)
            return out.astype(np.float32)
        else:
            out = margin
        return out[:, 0].astype(np.float32) if out.shape[1] == 1 else out.astype(np.float32)

    def calibrate(self, reference_margin: np.ndarray, x: np.ndarray) -> "Forest":
        """Return a copy whose base margin reproduces xgboost's margins ``reference_margin`` on ``x``.

        xgboost has stored the intercept differently across versions (a probability scalar in
        1.x/2.x, a per-class margin vector in 3.x), so it is measured rather than parsed: the
        median gap gives it to within a rounding step, and the few float32 neighbours of that
        value are tried to find the one that reproduces xgboost bit for bit.
        """
        reference = np.asarray(reference_margin, np.float32).reshape(len(x), -1)
        base = self._with_base(np.zeros(len(self.group_trees), np.float32))
        guess = np.median(reference.astype(np.float64) - base.margin(x), axis=0).astype(np.float32)
        best, best_key = guess, None
        for steps in range(-4, 5):
            candidate = guess
            for _ in range(abs(steps)):
                candidate = np.nextafter(candidate, np.float32(np.inf if steps > 0 else -np.inf))
            error = np.abs(self._with_base(candidate).margin(x) - reference)
            key = (-(error == 0).sum(), float(error.max()))
            if best_key is None or key < best_key:
                best, best_key = candidate, key
        return self._with_base(best)

    def _with_base(self, base_margin: np.ndarray) -> "Forest":
        return Forest(**{**self.__dict__, "base_margin": np.asarray(base_margin, np.float32)})


def export_forest(model_json: bytes | str) -> Forest:
    """Build a ``Forest`` from ``Booster.save_raw("json")``; raise ``UnsupportedModel`` if unable.

    The returned forest has a zero base margin: call ``Forest.calibrate`` before use.
    """
    learner = json.loads(model_json)["learner"]
    objective = learner["objective"]["name"]
    booster = learner["gradient_booster"]
    params = learner["learner_model_param"]
    if booster.get("name") != "gbtree":
        raise UnsupportedModel(f"booster {booster.get('name')!r} (only gbtree)")
    if objective not in _TRANSFORMS:
        raise UnsupportedModel(f"objective {objective!r}")
    if int(params.get("num_target", "1")) > 1:
        raise UnsupportedModel("multi-target trees")
    model = booster["model"]
    trees = model["trees"]
    n_outputs = max(1, int(params.get("num_class", "0")))
    n_features = int(params["num_feature"])
    if not trees:
        raise UnsupportedModel("a model without trees")
    parts = [_flatten_tree(tree, n_features) for tree in trees]
    sizes = np.array([len(p[0]) for p in parts])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    tree_group = np.asarray(model["tree_info"], dtype=np.int64)
    return Forest(
        feature=np.concatenate([p[0] for p in parts]),
        threshold=np.concatenate([p[1] for p in parts]),
        left=np.concatenate([p[2] + s for p, s in zip(parts, starts, strict=False)]),
        value=np.concatenate([p[3] for p in parts]),
        roots=starts.astype(np.int64),
        group_trees=tuple(np.flatnonzero(tree_group == k) for k in range(n_outputs)),
        depth=max(p[4] for p in parts),
        n_features=n_features,
        transform=_TRANSFORMS[objective],
        base_margin=np.zeros(n_outputs, np.float32),
    )


def _flatten_tree(tree: dict, n_features: int):
    """One tree renumbered breadth-first with siblings adjacent: (feature, thr, left, value, depth)."""
    if any(tree.get("split_type", [])) or tree.get("categories_nodes"):
        raise UnsupportedModel("categorical splits")
    if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
        raise UnsupportedModel("vector leaves")
    lefts, rights = tree["left_children"], tree["right_children"]
    cond, index, default_left = tree["split_conditions"], tree["split_indices"], tree["default_left"]
    new_id = {0: 0}
    order, depth_of = [0], {0: 0}
    queue = deque([0])
    while queue:  # breadth-first: allocate both children of a split side by side
        old = queue.popleft()
        if lefts[old] == -1:
            continue
        for child in (lefts[old], rights[old]):
            new_id[child] = len(order)
            order.append(child)
            depth_of[child] = depth_of[old] + 1
            queue.append(child)
    count = len(order)
    feature = np.zeros(count, np.int64)
    threshold = np.full(count, np.nan, np.float32)
    left = np.arange(count, dtype=np.int64)
    value = np.zeros(count, np.float32)
    for new, old in enumerate(order):
        if lefts[old] == -1:
            value[new] = cond[old]
            continue
        feature[new] = index[old] if default_left[old] else index[old] + n_features
        threshold[new] = cond[old]
        left[new] = new_id[lefts[old]]
    return feature, threshold, left, value, max(depth_of.values())
