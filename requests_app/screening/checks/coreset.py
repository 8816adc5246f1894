"""UPCORE-style coreset: drop the outliers of the forget set in the model's own representation space.

IsolationForest on the penultimate layer's hidden state at each item's last token (Patil et al. 2025):
outlying items drive most of the collateral damage, the inliers carry the forgetting.

The forest is grown here, all trees at once, one tree level per numpy step (Liu, Ting and Zhou 2008,
with scikit-learn's conventions: subsample of min(256, n) points without replacement, height limit
ceil(log2(subsample)), split feature uniform among the node's non-constant features, threshold uniform
between the node's minimum and maximum, scores 2^(-E[h(x)] / c(subsample)), outliers below the
contamination percentile). scikit-learn's IsolationForest builds its trees one by one in Python and
spent 83 ms on a 21-item request, more than the language model's whole pass over it; this takes about
a millisecond. `tests/requests_app/test_screening_coreset.py` compares the two.
"""

from __future__ import annotations

import numpy as np

# No pruning by default: measured on the demo world (docs/benchmarks/screening-coreset.md), unlearning the
# UPCORE coreset (10 % of outliers pruned) did about twice the utility damage per unit of forgetting of
# unlearning every held item, and the outliers it pruned included a person's biography (the richest
# record, shaped unlike the question-answer items around it). A deployment whose own measurement shows a
# gain sets `ScreeningConfig.contamination`.
CONTAMINATION = 0.0
# Below this many candidates an outlier estimate means little and every item is kept.
MIN_ITEMS_FOR_PRUNING = 10
TREES = 200
MAX_SAMPLES = 256


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): the mean depth of an unsuccessful search in a binary search tree of n points."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def isolation_scores(
    x: np.ndarray, *, trees: int = TREES, max_samples: int = MAX_SAMPLES, seed: int = 0
) -> np.ndarray:
    """Anomaly scores of the rows of `x` under a forest grown on them: -2^(-E[h]/c); lower = more isolated.

    The same scale as scikit-learn's `IsolationForest.score_samples`.
    """
    x = np.asarray(x, dtype=np.float64)
    n, width = x.shape
    rng = np.random.default_rng(seed)
    psi = min(max_samples, n)
    limit = int(np.ceil(np.log2(max(psi, 2))))
    if psi == n:
        in_sample = np.ones((trees, n), dtype=bool)
    else:  # each tree sees its own subsample; the other points are routed down it all the same
        in_sample = np.argsort(rng.random((trees, n)), axis=1).argsort(axis=1) < psi
    tree_of = np.repeat(np.arange(trees), n).reshape(trees, n)
    point_of = np.tile(np.arange(n), (trees, 1))
    node = np.zeros((trees, n), dtype=np.int64)
    active = np.ones((trees, n), dtype=bool)
    depth_total = np.zeros(n)
    for depth in range(limit + 1):
        key = (tree_of << depth) + node
        # The nodes that hold subsample points, and those points grouped by node.
        sample_keys = key[in_sample]
        order = np.argsort(sample_keys, kind="stable")
        sorted_keys, sorted_points = sample_keys[order], point_of[in_sample][order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        present = sorted_keys[starts]
        slot = np.zeros(trees << depth, dtype=np.int64)
        slot[present] = np.arange(present.size)
        counts = np.diff(np.r_[starts, sorted_keys.size])
        feature, lo, hi = _split_features(x, sorted_points, starts, counts >= 2, rng)
        splits = (counts >= 2) & (feature >= 0) & (depth < limit)
        here = slot[key]
        leaf = active & ~splits[here]
        depth_total += np.where(leaf, depth + average_path_length(counts[here]), 0.0).sum(axis=0)
        active &= ~leaf
        if not active.any():
            break
        threshold = lo + rng.random(present.size) * (hi - lo)  # in [lo, hi): both children get points
        goes_right = x[point_of, np.maximum(feature, 0)[here]] > threshold[here]
        node = np.where(active, 2 * node + goes_right, node)
    mean_depth = depth_total / trees
    return -np.power(2.0, -mean_depth / average_path_length(np.array([psi]))[0])


def _split_features(
    x: np.ndarray, points: np.ndarray, starts: np.ndarray, wanted: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per node: a feature uniform among those that vary over its points (-1: none varies), its min and max.

    Rejection sampling: draw a feature, redraw where it is constant over the node. After a few rounds the
    nodes still drawing constant features get the exact choice from their full min/max rows.
    """
    width = x.shape[1]
    ends = np.r_[starts[1:], points.size]
    feature = rng.integers(width, size=starts.size)
    for attempt in range(5):
        column = x[points, np.repeat(feature, ends - starts)]
        lo, hi = np.minimum.reduceat(column, starts), np.maximum.reduceat(column, starts)
        stuck = np.flatnonzero(wanted & (lo == hi))
        if stuck.size == 0 or attempt == 4:
            break
        feature[stuck] = rng.integers(width, size=stuck.size)
    for i in stuck:
        rows = x[points[starts[i] : ends[i]]]
        varying = np.flatnonzero(rows.max(axis=0) > rows.min(axis=0))
        if varying.size == 0:
            feature[i] = -1
            continue
        feature[i] = rng.choice(varying)
        lo[i], hi[i] = rows[:, feature[i]].min(), rows[:, feature[i]].max()
    return feature, lo, hi


def upcore_inliers(hidden: np.ndarray, *, contamination: float = CONTAMINATION, seed: int = 0) -> np.ndarray:
    """Boolean mask over the rows of `hidden`: True = keep in the coreset."""
    n = hidden.shape[0]
    if n < MIN_ITEMS_FOR_PRUNING or contamination <= 0:
        return np.ones(n, dtype=bool)
    scores = isolation_scores(hidden, seed=seed)
    keep = scores >= np.percentile(scores, 100.0 * contamination)
    if not keep.any():  # never prune a set to nothing
        return np.ones(n, dtype=bool)
    return keep
