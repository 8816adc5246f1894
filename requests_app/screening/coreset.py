"""UPCORE-style coreset: drop the outliers of the forget set in the model's own representation space.

IsolationForest on the penultimate layer's hidden state at each item's last token (Patil et al. 2025):
outlying items drive most of the collateral damage, the inliers carry the forgetting.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

CONTAMINATION = 0.1
# Below this many candidates an outlier estimate means little and every item is kept.
MIN_ITEMS_FOR_PRUNING = 10


def upcore_inliers(hidden: np.ndarray, *, contamination: float = CONTAMINATION, seed: int = 0) -> np.ndarray:
    """Boolean mask over the rows of `hidden`: True = keep in the coreset."""
    n = hidden.shape[0]
    if n < MIN_ITEMS_FOR_PRUNING:
        return np.ones(n, dtype=bool)
    forest = IsolationForest(contamination=contamination, random_state=seed, n_estimators=100)
    labels = forest.fit_predict(hidden.astype(np.float64))
    keep = labels == 1
    if not keep.any():  # never prune a set to nothing
        return np.ones(n, dtype=bool)
    return keep
