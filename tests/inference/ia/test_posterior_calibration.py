"""κ and D, the calibration of the held emulator covariance (inference.ia.posterior_calibration)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from inference.ia.likelihood import build_likelihood
from inference.ia.posterior_calibration import calibration_from
from tests.inference.ia.standin import observe, random_cov
from tests.inference.ia.test_likelihood import ar1_correlation, varying_standin


@pytest.mark.parametrize(("kappa", "extra"), [(0.7, (0.0, 0.0, 0.0)), (1.6, (0.0, 0.5, 2.0))])
def test_calibration_recovers_the_factor_and_the_variances_that_posteriors_miss_by(
    kappa: float, extra: tuple[float, ...]
) -> None:
    """Gaussian posteriors of variance v (varying between injections) whose truths scatter about their
    means with variance κ v + D_i: the estimator returns κ and D, and every parameter's 68% coverage is
    then nominal (20000 injections: Monte-Carlo error ~1-2%)."""
    rng = np.random.default_rng(3)
    variance = rng.lognormal(0.0, 0.5, (20000, 3))
    d = np.asarray(extra) * np.median(variance, axis=0)
    error = rng.standard_normal((20000, 3)) * np.sqrt(kappa * variance + d)
    got, got_d = calibration_from(error, variance)
    assert got == pytest.approx(kappa, rel=0.03)
    np.testing.assert_allclose(got_d, d, atol=0.05 * kappa * np.median(variance))
    inside = np.abs(error) / np.sqrt(got * variance + got_d) <= norm.ppf(0.84)
    np.testing.assert_allclose(inside.mean(axis=0), 0.68, atol=1e-3)


def test_the_parameter_variance_widens_a_linear_posterior_by_d() -> None:
    """For a linear model μ = Aθ + b, holding ``J D Jᵀ`` (J = A) beside the data covariance C turns the
    posterior covariance (Aᵀ C⁻¹ A)⁻¹ into (Aᵀ C⁻¹ A)⁻¹ + D (Woodbury), the marginalisation over a
    Gaussian shift of the parameters; the held covariance is κ Σ_emu + A D Aᵀ."""
    emu = varying_standin()
    emu.error_covariance = 0.2 * np.eye(18)
    emu.n_realisations = 1
    emu.covariance_scale = 1.3
    emu.parameter_variance = np.array([0.0, 0.04, 0.25])
    cov = random_cov(18, seed=21, scale=0.05)
    like = build_likelihood(emu, observe(emu, np.zeros(3), cov, seed=22), emulator_variance="both")
    ref = jnp.asarray([0.2, -0.1, 0.4], jnp.float32)
    a = emu.A.astype(float)
    emu_cov = np.asarray(like.emulator_covariance(ref), float)
    held = np.asarray(like.held_covariance(ref), float)
    np.testing.assert_allclose(held, 1.3 * emu_cov + a @ np.diag(emu.parameter_variance) @ a.T, rtol=1e-4,
                               atol=1e-6)
    frozen = like.frozen_at(np.asarray(ref))
    hessian = -np.asarray(jax.hessian(lambda t: frozen.log_likelihood(t))(jnp.zeros(3)), float)
    before = np.linalg.inv(a.T @ np.linalg.inv(cov + 1.3 * emu_cov) @ a)
    np.testing.assert_allclose(np.linalg.inv(hessian), before + np.diag(emu.parameter_variance), rtol=2e-3,
                               atol=1e-6)
    emu.error_covariance = None  # without E there is no calibration: neither κ nor D
    plain = build_likelihood(emu, observe(emu, np.zeros(3), cov, seed=22), emulator_variance="both")
    assert plain.parameter_variance is None and plain.covariance_scale == 1.0


@pytest.mark.parametrize("mode", ["both", "aleatoric"])
def test_the_fixed_form_holds_kappa_times_the_emulator_covariance(mode: str) -> None:
    """With an excess error E in play (``both``), frozen_at holds data cov + κ Σ_emu(θ0) and its
    log-likelihood is that Gaussian; without E (``aleatoric``) κ does not enter. The varying form never
    uses κ."""
    emu = varying_standin()
    emu.noise_correlation = ar1_correlation(18, 0.4)
    emu.error_covariance = 0.2 * np.eye(18)
    emu.n_realisations = 1
    emu.covariance_scale = 1.7
    cov = random_cov(18, seed=21, scale=0.05)
    obs = observe(emu, np.zeros(3), cov, seed=22)
    like = build_likelihood(emu, obs, emulator_variance=mode)
    ref = jnp.asarray([0.2, -0.1, 0.4], jnp.float32)
    emu_cov = np.asarray(like.emulator_covariance(ref), float)
    kappa = 1.7 if mode == "both" else 1.0
    assert like.covariance_scale == kappa
    frozen = like.frozen_at(np.asarray(ref))
    np.testing.assert_allclose(frozen.cov, cov + kappa * emu_cov, rtol=1e-5, atol=1e-8)
    theta = jnp.asarray([-0.3, 0.5, 0.1], jnp.float32)
    mean = emu.A.astype(float) @ np.asarray(theta, float) + emu.b
    expected = multivariate_normal.logpdf(obs.data_vector(), mean, cov + kappa * emu_cov)
    assert float(frozen.log_likelihood(theta)) == pytest.approx(expected, rel=2e-5)
    varying = multivariate_normal.logpdf(
        obs.data_vector(), mean, cov + np.asarray(like.emulator_covariance(theta), float)
    )
    assert float(like.log_likelihood(theta)) == pytest.approx(varying, rel=2e-5)
