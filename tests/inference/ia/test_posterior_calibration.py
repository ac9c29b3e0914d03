"""κ and D, the calibration of the fit (inference.ia.posterior_calibration)."""

from __future__ import annotations

from dataclasses import replace

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm, truncnorm

from inference.ia.likelihood import build_likelihood
from inference.ia.posterior_calibration import calibration_from, shifted_draws
from tests.inference.ia.standin import observe, random_cov
from tests.inference.ia.test_likelihood import ar1_correlation, varying_standin


@pytest.mark.parametrize(("kappa", "extra"), [(0.7, (0.0, 0.0, 0.0)), (1.6, (0.0, 0.5, 2.0))])
def test_calibration_recovers_the_factor_and_the_variances_that_posteriors_miss_by(
    kappa: float, extra: tuple[float, ...]
) -> None:
    """Gaussian posteriors of variance v (varying between injections) whose truths scatter about their
    means with variance κ v + D_i, in an unbounded box: the estimator returns κ and D, and every
    parameter's 68% coverage is then nominal (20000 injections: Monte-Carlo error ~1-2%)."""
    rng = np.random.default_rng(3)
    variance = rng.lognormal(0.0, 0.5, (20000, 3))
    d = np.asarray(extra) * np.median(variance, axis=0)
    error = rng.standard_normal((20000, 3)) * np.sqrt(kappa * variance + d)
    unbounded = np.full(3, np.inf)
    u = norm.cdf(error / np.sqrt(variance))  # the truth 0, each posterior N(-error, v) fitted with κ = 1
    got, got_d, coverage = calibration_from(np.zeros_like(error), u, np.sqrt(variance), np.ones(20000),
                                            -unbounded, unbounded)
    assert got == pytest.approx(kappa, rel=0.03)
    np.testing.assert_allclose(got_d, d, atol=0.05 * kappa * np.median(variance))
    z = np.abs(error) / np.sqrt(got * variance + got_d)
    np.testing.assert_allclose((z <= norm.ppf(0.84)).mean(axis=0), 0.68, atol=1e-3)
    # the coverage it reports is that of these posteriors widened by κ and D, at 68% and at 95% (to the
    # accuracy of the 48 nodes that stand in for a shifted posterior)
    np.testing.assert_allclose(coverage, np.stack([(z <= norm.ppf(0.84)).mean(axis=0),
                                                   (z <= norm.ppf(0.975)).mean(axis=0)], axis=1), atol=3e-3)


def test_calibration_in_the_box_makes_the_shifted_draws_cover_nominally() -> None:
    """Injections drawn from the model the shifted draws are exact for: θ uniform in the box [0, 1]², the
    emulator's point u = θ + δ with δ ~ N(0, diag(0, 0.04)), both in the box, data about u with sd 0.08,
    and NUTS's posterior of u that Gaussian cut to the box. Given each injection's truth, u and draw sd,
    the estimator returns κ ≈ 1 and a D for θ₁ alone; the draws shifted by it and cut to the box
    (:func:`shifted_draws`, an independent Monte Carlo) cover both truths at 68% within 0.03. Without the
    box in the estimate (both bounds infinite) θ₁'s D comes out lower, and it covers at least 0.03 less."""
    rng = np.random.default_rng(11)
    k, n_draws, width = 1500, 400, 0.08
    lo, hi, extra_true = np.zeros(2), np.ones(2), np.array([0.0, 0.04])
    truth, point = np.empty((k, 2)), np.empty((k, 2))
    filled = 0
    while filled < k:  # (θ, u) from the prior ∝ box(θ) box(u) N(u - θ; 0, D)
        theta = rng.uniform(0.0, 1.0, (k, 2))
        moved = theta + rng.standard_normal((k, 2)) * np.sqrt(extra_true)
        keep = np.all((moved >= 0) & (moved <= 1), axis=1)
        take = min(k - filled, int(keep.sum()))
        truth[filled:filled + take], point[filled:filled + take] = theta[keep][:take], moved[keep][:take]
        filled += take
    centre = point + rng.standard_normal((k, 2)) * width
    a, b = (lo - centre) / width, (hi - centre) / width
    draws = truncnorm.rvs(a[:, None, :], b[:, None, :], loc=centre[:, None, :], scale=width,
                          size=(k, n_draws, 2), random_state=rng)  # (K, N, 2)
    u = (draws < truth[:, None, :]).mean(axis=1).clip(0.5 / n_draws, 1 - 0.5 / n_draws)
    sd = draws.std(axis=1)
    kappa, extra, reported = calibration_from(truth, u, sd, np.ones(k), lo, hi)
    assert kappa == pytest.approx(1.0, abs=0.15)
    assert extra[0] < 0.05 * extra[1]

    def coverage(d: np.ndarray) -> np.ndarray:
        moved = np.stack([shifted_draws(draws[j][None], d, lo, hi, np.random.default_rng(j))[0][0]
                          for j in range(k)])
        below = (moved < truth[:, None, :]).mean(axis=1)
        return (np.abs(below - 0.5) <= 0.34).mean(axis=0)

    boxed = coverage(extra)
    np.testing.assert_allclose(boxed, 0.68, atol=0.03)
    np.testing.assert_allclose(reported[:, 0], boxed, atol=0.02)  # the estimator's own account of it
    unbounded = np.full(2, np.inf)
    _, free, _ = calibration_from(truth, u, sd, np.ones(k), -unbounded, unbounded)
    assert free[1] < extra[1] and coverage(free)[1] < boxed[1] - 0.03


def test_shifted_draws_are_the_posterior_convolved_with_d_and_cut_to_the_box() -> None:
    """Draws of N(0, v) shifted with D = (0.5, 0) and cut to θ₀ ≥ -1: θ₀ follows N(0, v + D) truncated at
    -1 (scipy's truncnorm), θ₁ keeps its distribution, and each kept draw's θ₁ is that of the draw its
    index names (the sampler's statistics follow it); every chain keeps its length."""
    from scipy.stats import truncnorm

    rng = np.random.default_rng(5)
    v = 0.6
    draws = rng.standard_normal((4, 20000, 2)) * np.sqrt(v)
    lo, hi = np.array([-1.0, -50.0]), np.array([50.0, 50.0])
    moved, index = shifted_draws(draws, np.array([0.5, 0.0]), lo, hi, np.random.default_rng(6))
    assert moved.shape == draws.shape and (moved[..., 0] >= -1).all()
    exact = truncnorm((-1 - 0) / np.sqrt(v + 0.5), np.inf, scale=np.sqrt(v + 0.5))
    first = moved[..., 0].reshape(-1)
    assert first.mean() == pytest.approx(exact.mean(), abs=0.02)
    assert first.var() == pytest.approx(exact.var(), rel=0.03)
    assert moved[..., 1].var() == pytest.approx(v, rel=0.03)
    np.testing.assert_array_equal(moved[..., 1], np.take_along_axis(draws[..., 1], index, axis=1))
    untouched, same = shifted_draws(draws, np.zeros(2), lo - 100, hi, np.random.default_rng(6))
    np.testing.assert_array_equal(untouched, draws)  # nothing to shift or cut: the draws as they were
    np.testing.assert_array_equal(same, np.broadcast_to(np.arange(20000), (4, 20000)))


def test_the_fit_with_d_is_the_exact_posterior_convolved_with_d() -> None:
    """On a linear stand-in with κ and D, NUTS draws (held covariance κ Σ_emu, then the shift) match the
    exact posterior N(m, (Aᵀ Σ⁻¹ A)⁻¹ + D) where the box [-1, 1]³ barely cuts it, and the sampler's own
    draws, which the goodness of fit reads, match it without D; without E neither applies."""
    from inference.ia.fit import FitSettings, sample_posterior
    from inference.ia.goodness import posterior_model
    from tests.inference.ia.standin import exact_posterior, make_standin
    from tests.inference.ia.test_fit import assert_matches_exact

    emu = make_standin(seed=3, posterior_sd=0.1)
    emu.error_covariance = np.zeros((18, 18))
    emu.n_realisations = 1
    emu.covariance_scale = 1.3
    emu.parameter_variance = np.array([0.01, 0.0, 0.02])
    cov = random_cov(18, seed=4, scale=0.5)
    obs = observe(emu, np.array([0.2, -0.3, 0.1]), cov, seed=5)
    like = build_likelihood(emu, obs, emulator_variance="both")
    result = sample_posterior(like, FitSettings(chains=4, warmup=400, samples=1000, seed=1), quiet=True)
    sigma = cov + 1.3 * np.diag(emu.aleatoric + emu.epistemic)
    mean, post_cov = exact_posterior(emu.A, emu.b, obs.data_vector(), sigma)
    assert_matches_exact(result, like.space.free, mean, post_cov + np.diag(emu.parameter_variance))
    assert result.sample_stats["diverging"].shape == result.samples["p0"].shape
    # the sampler's own draws, the posterior of θ + δ, are kept: the exact posterior without D, and what the
    # goodness of fit evaluates the model at
    own = replace(result, samples=result.sampler_samples, sampler_samples=None)
    assert_matches_exact(own, like.space.free, mean, post_cov)
    np.testing.assert_allclose(posterior_model(like, result).points[0],
                               [own.samples[n].mean(dtype=np.float64) for n in like.space.free], rtol=1e-9)
    emu.error_covariance = None
    assert build_likelihood(emu, obs, emulator_variance="both").parameter_variance is None


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
