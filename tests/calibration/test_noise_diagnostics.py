"""calibration/noise_diagnostics.py: the linearised fit that its bias and forecast measurements rest on."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as scipy_stats

SCRIPT = Path(__file__).resolve().parents[2] / "calibration" / "noise_diagnostics.py"
spec = importlib.util.spec_from_file_location("noise_diagnostics", SCRIPT)
noise_diagnostics = importlib.util.module_from_spec(spec)
spec.loader.exec_module(noise_diagnostics)


def test_fisher_pulls_recover_a_linear_models_offset_and_its_fisher_variance() -> None:
    """For a linear model μ(θ) = Aθ + b with covariance C, data μ(θ) + Aδ give back δ and (F⁻¹)ᵢᵢ exactly,
    F = Aᵀ C⁻¹ A; a row whose covariance is not finite gives NaN."""
    rng = np.random.default_rng(3)
    n_data, n_par = 12, 3
    a, b = rng.normal(size=(n_data, n_par)), rng.normal(size=n_data)
    root = rng.normal(size=(n_data, n_data))
    cov = root @ root.T + n_data * np.eye(n_data)
    bad = np.full_like(cov, np.nan)

    def model_covariance(theta):
        covariance = jnp.where(theta[0] > 5.0, jnp.asarray(bad), jnp.asarray(cov))
        return jnp.asarray(a) @ theta + jnp.asarray(b), covariance

    like = SimpleNamespace(model_covariance=model_covariance)
    theta = rng.normal(size=(4, n_par))
    theta[3, 0] = 9.0  # its covariance is NaN
    delta = rng.normal(size=(4, n_par))
    data = theta @ a.T + b + delta @ a.T
    shift, variance = noise_diagnostics.fisher_pulls(like, theta, data)
    np.testing.assert_allclose(shift[:3], delta[:3], rtol=2e-3, atol=2e-3)  # float32 model
    np.testing.assert_allclose(variance[:3], np.tile(np.diag(np.linalg.inv(a.T @ np.linalg.solve(cov, a))),
                                                     (3, 1)), rtol=1e-4)
    assert np.isnan(shift[3]).all()


def _linear_likelihood(a: np.ndarray, b: np.ndarray, cov: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                       extra: np.ndarray | None = None):
    """The pieces of an IA likelihood that the Laplace forecast uses, for μ(θ) = Aθ + b with a fixed C (and
    the calibration's D ``extra``)."""
    inverse = jnp.asarray(np.linalg.inv(cov))

    def log_likelihood(theta, data, extra_cov):
        residual = data - (jnp.asarray(a) @ theta + jnp.asarray(b))
        return -0.5 * residual @ inverse @ residual + 0.0 * jnp.sum(extra_cov)

    return SimpleNamespace(
        space=SimpleNamespace(lo=lo, hi=hi),
        log_likelihood=log_likelihood,
        held_covariance=lambda theta: jnp.asarray(cov),
        model_covariance=lambda theta: (jnp.asarray(a) @ theta + jnp.asarray(b), jnp.asarray(cov)),
        parameter_variance=extra,
    )


@pytest.mark.parametrize("extra", [None, np.array([0.3, 0.0, 0.05])], ids=["no D", "D"])
def test_laplace_forecast_is_the_exact_posterior_of_a_linear_model(extra) -> None:
    """For μ(θ) = Aθ + b with a fixed covariance C and a box far wider than the posterior, the posterior is
    N(θ̂, F⁻¹ + D) with θ̂ the generalised least-squares fit: u = Φ((truth − θ̂) / √((F⁻¹)ᵢᵢ + Dᵢ))."""
    rng = np.random.default_rng(5)
    n_data, n_par = 15, 3
    a, b = rng.normal(size=(n_data, n_par)), rng.normal(size=n_data)
    root = rng.normal(size=(n_data, n_data))
    cov = 0.05 * (root @ root.T + n_data * np.eye(n_data))
    like = _linear_likelihood(a, b, cov, np.full(n_par, -30.0), np.full(n_par, 30.0), extra)
    fit = noise_diagnostics.laplace_fitter(like)
    inverse_fisher = np.linalg.inv(a.T @ np.linalg.solve(cov, a))
    variance = np.diag(inverse_fisher) + (0.0 if extra is None else extra)
    for _ in range(3):
        truth = rng.normal(size=n_par)
        data = a @ truth + b + np.linalg.cholesky(cov) @ rng.normal(size=n_data)
        best = inverse_fisher @ a.T @ np.linalg.solve(cov, data - b)
        expected = scipy_stats.norm.cdf((truth - best) / np.sqrt(variance))
        np.testing.assert_allclose(fit(truth, data), expected, atol=2e-3)


def test_laplace_forecast_cuts_the_gaussian_to_the_prior_box() -> None:
    """One parameter whose posterior sd is as wide as its box: u is that of N(θ̂, σ²) truncated to the box."""
    a, b, cov = np.array([[1.0], [2.0]]), np.zeros(2), np.eye(2) * 5.0
    lo, hi = np.array([-1.0]), np.array([2.0])
    fit = noise_diagnostics.laplace_fitter(_linear_likelihood(a, b, cov, lo, hi))
    truth, data = np.array([1.5]), np.array([0.3, 0.9])
    sd = np.sqrt(5.0 / 5.0)  # F = AᵀC⁻¹A = 5 / 5
    best = (a[:, 0] @ data) / 5.0
    cut = scipy_stats.truncnorm((lo - best) / sd, (hi - best) / sd, loc=best, scale=sd)
    np.testing.assert_allclose(fit(truth, data), cut.cdf(truth), atol=2e-3)
    assert not np.isclose(cut.cdf(truth)[0], scipy_stats.norm.cdf((truth[0] - best) / sd), atol=0.02)
