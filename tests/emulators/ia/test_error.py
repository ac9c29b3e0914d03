"""The emulator-error estimator against a known injected error (its CLI: test_emulator_cli.py)."""

from __future__ import annotations

import numpy as np

from emulators.ia.error import excess_covariance


def _rows(n: int, excess: np.ndarray | None, seed: int) -> tuple[np.ndarray, ...]:
    """Realisations (n, 4, 2, 5) around an emulator mean: correlated noise of sd σ per realisation, plus
    (when ``excess`` is given) one error per row shared by its realisations, of covariance σ E σ."""
    rng = np.random.default_rng(seed)
    r, s, b = 4, 2, 5
    k = s * b
    idx = np.arange(k)
    corr = 0.6 ** np.abs(idx[:, None] - idx[None, :])
    sd = np.exp(rng.uniform(-3, 3, size=(n, k)))  # scales differ by decades between rows and bins
    epi = 0.05 * sd**2
    mean = rng.normal(size=(n, k))
    noise = rng.multivariate_normal(np.zeros(k), corr, size=(n, r)) * sd[:, None, :]
    err = np.sqrt(0.05) * rng.normal(size=(n, k)) * sd  # what the ensemble's variance describes
    if excess is not None:
        err = err + rng.multivariate_normal(np.zeros(k), excess, size=n) * sd
    x = mean[:, None] + err[:, None] + noise
    shape = (n, s, b)
    return x.reshape(n, r, s, b), mean.reshape(shape), (sd**2).reshape(shape), epi.reshape(shape), corr


def test_recovers_an_injected_correlated_error_and_nothing_without_one() -> None:
    k = 10
    u = np.linspace(-1, 1, k)
    excess = 0.3 * np.exp(-0.5 * (u[:, None] - u[None, :]) ** 2 / 0.5**2)  # smooth, coherent across bins
    x, mean, var, epi, corr = _rows(4000, excess, seed=0)
    x[11, 1, 0, 2] = np.nan  # a failed realisation: its row is skipped
    est, used = excess_covariance(x, mean, var, epi, corr)
    assert used == 3999
    np.testing.assert_allclose(est, est.T, atol=1e-12)
    assert np.linalg.eigvalsh(est).min() > -1e-10  # positive semi-definite
    assert np.abs(est - excess).max() < 0.05  # sampling error ~ 0.3 sqrt(2 / 4000) per entry, plus noise
    none, _ = excess_covariance(*_rows(4000, None, seed=1)[:4], corr)
    assert np.abs(none).max() < 0.05
    # ignoring the noise correlation would count the correlated noise as emulator error
    wrong, _ = excess_covariance(x, mean, var, epi, None)
    assert np.abs(wrong - excess).max() > 0.3

