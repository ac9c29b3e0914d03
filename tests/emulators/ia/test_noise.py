"""The noise-correlation estimator against a known correlation, and its place in the artifact."""

from __future__ import annotations

import numpy as np

from emulators.ia.noise import noise_correlation


def test_pooled_correlation_recovers_a_known_one_across_heteroscedastic_rows() -> None:
    """Rows whose noise scale differs by decades per bin: standardising by σ recovers C; pooling the raw
    deviations does not."""
    rng = np.random.default_rng(0)
    n, r, s, b = 3000, 4, 2, 5
    k = s * b
    idx = np.arange(k)
    corr = 0.6 ** np.abs(idx[:, None] - idx[None, :])
    sd = np.exp(rng.uniform(-3, 3, size=(n, k)))  # row- and bin-dependent scales
    noise = rng.multivariate_normal(np.zeros(k), corr, size=(n, r)) * sd[:, None, :]
    mean = rng.normal(size=(n, 1, k))
    realisations = (mean + noise).reshape(n, r, s, b)
    realisations[7, 2, 1, 3] = np.nan  # a failed realisation: its row is skipped
    est, used = noise_correlation(realisations, (sd**2).reshape(n, s, b))
    assert used == n - 1
    np.testing.assert_allclose(np.diag(est), 1.0)
    np.testing.assert_allclose(est, est.T)
    assert np.abs(est - corr).max() < 0.05  # ~ 1/sqrt(3 (r - 1) n) = 0.01 per entry
    dev = (realisations - realisations.mean(axis=1, keepdims=True)).reshape(n, r, k)[np.arange(n) != 7]
    raw = np.corrcoef(dev.reshape(-1, k).T)
    assert np.abs(raw - corr).max() > 0.2  # the unstandardised pooled estimate is wrong
