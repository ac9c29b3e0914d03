"""The emulator-error estimator against a known injected error (its CLI: test_emulator_cli.py)."""

from __future__ import annotations

import numpy as np
import pytest

from emulators.ia.error import amplitude_coefficients, excess_covariance, realisation_chi2


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


def test_chi2_is_the_whitened_residual_under_the_model_covariance() -> None:
    x, mean, var, epi, corr = _rows(30, None, seed=4)
    x[3, 2, 1, 1] = np.nan  # a failed realisation: its row has no χ²
    chi2 = realisation_chi2(x, mean, var, epi, corr + 0.1 * np.eye(10))
    assert np.isnan(chi2[3]).all() and np.isfinite(np.delete(chi2, 3, axis=0)).all()
    for i in (0, 7, 29):
        sd = np.sqrt(var[i].reshape(-1))
        cov = np.outer(sd, sd) * (corr + 0.1 * np.eye(10)) + np.diag(epi[i].reshape(-1))
        for j in range(4):
            r = x[i, j].reshape(-1) - mean[i].reshape(-1)
            assert chi2[i, j] == pytest.approx(r @ np.linalg.inv(cov) @ r, rel=1e-8)


def test_amplitude_recovers_an_injected_log_linear_scale() -> None:
    """χ² of K = 40 bins whose covariance is off by exp(b·(1, x)): the fit returns b to its sampling error
    (~ sqrt(2 / (N R K)) ≈ 0.005 per coefficient here), and 0 for a covariance that is right."""
    rng = np.random.default_rng(8)
    n, r, k = 2000, 4, 40
    inputs = rng.uniform(-1, 1, size=(n, 3))
    true = np.array([-0.15, 0.4, 0.0, -0.2])
    scale = np.exp(true[0] + inputs @ true[1:])
    chi2 = rng.chisquare(k, size=(n, r)) * scale[:, None]
    chi2[5, 0] = np.nan  # a row with a failed realisation is left out
    np.testing.assert_allclose(amplitude_coefficients(chi2, inputs, k), true, atol=0.03)
    np.testing.assert_allclose(amplitude_coefficients(rng.chisquare(k, size=(n, r)), inputs, k), 0.0,
                               atol=0.03)
