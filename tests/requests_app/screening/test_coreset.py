"""The vectorised isolation forest against scikit-learn's IsolationForest (the reference implementation)."""

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.ensemble import IsolationForest

from requests_app.screening.checks.coreset import average_path_length, isolation_scores, upcore_inliers


def _sklearn_scores(x: np.ndarray, *, seed: int = 0) -> np.ndarray:
    return IsolationForest(n_estimators=1000, random_state=seed).fit(x).score_samples(x)


def test_average_path_length_matches_the_closed_form():
    assert average_path_length(np.array([0, 1, 2])).tolist() == [0.0, 0.0, 1.0]
    n = 256
    harmonic = sum(1.0 / i for i in range(1, n))  # H(n-1), exactly
    assert average_path_length(np.array([n]))[0] == pytest.approx(2 * harmonic - 2 * (n - 1) / n, rel=1e-3)


@pytest.mark.parametrize(("n", "width"), [(21, 128), (60, 16), (400, 8)])
def test_scores_rank_points_like_scikit_learn(n, width):
    rng = np.random.default_rng(n)
    x = np.vstack([rng.normal(0, 1, size=(n - 3, width)), rng.normal(0, 3, size=(3, width))])
    ours = isolation_scores(x, trees=1000)
    reference = _sklearn_scores(x)
    # Both are random forests: ours must agree with scikit-learn as well as scikit-learn agrees with
    # itself under another seed (0.86 for 21 points in 128 dimensions, over 0.98 for the others).
    self_agreement = spearmanr(_sklearn_scores(x, seed=1), reference).statistic
    assert spearmanr(ours, reference).statistic > self_agreement - 0.03
    # Same scale: the mean scores agree to a few hundredths (scores lie in [-1, 0]).
    assert ours.mean() == pytest.approx(reference.mean(), abs=0.03)


def test_subsampled_forest_routes_every_point():
    """With more points than the subsample, points outside a tree's subsample still get a depth."""
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 1, size=(297, 4)), rng.normal(9, 0.5, size=(3, 4))])
    scores = isolation_scores(x, max_samples=64)
    assert np.isfinite(scores).all()
    assert set(np.argsort(scores)[:3]) == {297, 298, 299}


def test_planted_outliers_are_pruned_as_scikit_learn_prunes_them():
    rng = np.random.default_rng(0)
    cluster = rng.normal(0, 1, size=(27, 64))
    x = np.vstack([cluster, rng.normal(0, 1, size=(3, 64)) + 6])
    keep = upcore_inliers(x, contamination=0.1)
    reference = IsolationForest(contamination=0.1, random_state=0).fit_predict(x) == 1
    assert keep.tolist() == reference.tolist()
    assert not keep[27:].any()


def test_same_seed_same_coreset_and_constant_points_are_kept():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 16))
    assert (upcore_inliers(x, seed=3) == upcore_inliers(x, seed=3)).all()
    same = np.ones((12, 16))
    assert upcore_inliers(same).all()  # nothing can be isolated: nothing is pruned


def test_only_varying_features_split():
    """One feature varies, fifteen are constant: the forest still isolates the extremes of that one."""
    x = np.ones((12, 16))
    x[:, 5] = np.arange(12)
    scores = isolation_scores(x)
    assert set(np.argsort(scores)[:2]) == {0, 11}
