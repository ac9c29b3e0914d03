"""Tagger metrics against independent computations: pair counting, the analytic Gaussian ROC, and the
Hanley–McNeil variance of the AUC for the bootstrap."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from emulators.taggers.metrics import accuracy, roc_auc, roc_curve, tagger_metrics


def test_auc_equals_pair_counting_with_ties() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(labels * 0.7, 1.0), 1)  # rounding makes ties
    sig, bkg = scores[labels == 1], scores[labels == 0]
    pairs = (sig[:, None] > bkg[None, :]).mean() + 0.5 * (sig[:, None] == bkg[None, :]).mean()
    assert roc_auc(labels, scores) == pytest.approx(pairs, rel=1e-12)
    eff_s, eff_b, _ = roc_curve(labels, scores)
    assert np.trapezoid(eff_s, eff_b) == pytest.approx(pairs, rel=1e-12)  # area under the merged-tie ROC


def test_gaussian_scores_recover_the_analytic_roc() -> None:
    rng = np.random.default_rng(1)
    d, n = 1.5, 20_000
    labels = np.r_[np.ones(n), np.zeros(n)].astype(int)
    scores = np.r_[rng.normal(d, 1, n), rng.normal(0, 1, n)]
    got = tagger_metrics(labels, scores, n_bootstrap=50, seed=2)
    assert got["auc"]["value"] == pytest.approx(norm.cdf(d / math.sqrt(2)), abs=4 * got["auc"]["std"])
    for wp in (0.3, 0.5):
        threshold = d + norm.ppf(1 - wp)  # εS = wp
        expected = 1 / norm.sf(threshold)
        key = f"rejection_{round(100 * wp)}"
        assert got[key]["value"] == pytest.approx(expected, abs=4 * got[key]["std"])
    best_threshold = d / 2  # equal priors and widths: the 0.5-posterior boundary
    assert accuracy(labels, scores, best_threshold) == pytest.approx(norm.cdf(d / 2), abs=0.006)


def test_bootstrap_std_of_the_auc_matches_hanley_mcneil() -> None:
    rng = np.random.default_rng(3)
    n = 500
    labels = np.r_[np.ones(n), np.zeros(n)].astype(int)
    scores = np.r_[rng.exponential(2.0, n), rng.exponential(1.0, n)]  # exponential scores: HM is exact
    a = roc_auc(labels, scores)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    hm = math.sqrt((a * (1 - a) + (n - 1) * (q1 - a * a) + (n - 1) * (q2 - a * a)) / (n * n))
    got = tagger_metrics(labels, scores, n_bootstrap=300, seed=4)
    assert got["auc"]["std"] == pytest.approx(hm, rel=0.2)
    assert got == tagger_metrics(labels, scores, n_bootstrap=300, seed=4)  # seeded
