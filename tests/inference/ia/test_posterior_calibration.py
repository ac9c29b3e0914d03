"""κ, the calibrated factor on the held emulator covariance (inference.ia.posterior_calibration)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from inference.ia.likelihood import build_likelihood
from inference.ia.posterior_calibration import covariance_scale
from tests.inference.ia.standin import observe, random_cov
from tests.inference.ia.test_likelihood import ar1_correlation, varying_standin


@pytest.mark.parametrize("kappa", [0.7, 1.0, 1.6])
def test_covariance_scale_recovers_the_factor_that_posteriors_miss_by(kappa: float) -> None:
    """Gaussian posteriors of sd s whose truths scatter with sd √κ s about their means: u = Φ(√κ ε), and
    the estimator returns κ (20000 injections × 7 parameters: Monte-Carlo error ~1%)."""
    eps = np.random.default_rng(3).standard_normal((20000, 7))
    got = covariance_scale(norm.cdf(np.sqrt(kappa) * eps))
    assert got == pytest.approx(kappa, rel=0.03)
    rescaled = norm.cdf(norm.ppf(norm.cdf(np.sqrt(kappa) * eps)) / np.sqrt(got))
    assert np.mean(np.abs(rescaled - 0.5) <= 0.34) == pytest.approx(0.68, abs=0.002)


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
