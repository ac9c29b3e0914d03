"""The IA likelihood against independent computations (scipy), its parameter handling and its refusals."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from common.errors import InputError
from inference.ia.likelihood import build_likelihood
from inference.ia.observations import Observation
from inference.ia.parameter_space import parameter_space
from tests.inference.ia.standin import LinearGaussianEmulator, make_standin, observe, random_cov

VARIANCE = {
    "none": lambda a, e: 0 * a,
    "aleatoric": lambda a, e: a,
    "epistemic": lambda a, e: e,
    "both": lambda a, e: a + e,
}


def varying_standin() -> LinearGaussianEmulator:
    """A stand-in whose emulator variances depend on the parameters."""
    emu = make_standin(seed=7, posterior_sd=0.2)

    def var_fn(theta):
        alea = 0.3 * jnp.exp(1.5 * theta[0]) * jnp.ones(18)
        epi = 0.1 * (1.0 + theta[1] ** 2) * jnp.linspace(0.5, 1.5, 18)
        return alea, epi

    emu.var_fn = var_fn
    return emu


@pytest.mark.parametrize("diagonal", [False, True], ids=["correlated", "diagonal"])
@pytest.mark.parametrize("mode", list(VARIANCE))
def test_log_likelihood_is_the_gaussian_logpdf(mode: str, diagonal: bool) -> None:
    emu = varying_standin()
    cov = random_cov(18, seed=1, scale=0.4)
    cov = np.diag(np.diag(cov)) if diagonal else cov
    obs = observe(emu, np.array([0.1, 0.4, -0.2]), cov, seed=2)
    like = build_likelihood(emu, obs, emulator_variance=mode)
    assert like.diagonal == diagonal
    for theta in np.random.default_rng(3).uniform(-1, 1, size=(5, 3)):
        alea, epi = (np.asarray(v, float) for v in emu.var_fn(jnp.asarray(theta)))
        mean = emu.A.astype(float) @ theta + emu.b
        expected = multivariate_normal.logpdf(
            obs.data_vector(), mean, cov + np.diag(VARIANCE[mode](alea, epi))
        )
        assert float(like.log_likelihood(jnp.asarray(theta, jnp.float32))) == pytest.approx(
            expected, rel=2e-5
        )


def test_log_determinant_moves_the_posterior_mode() -> None:
    """Variance rising with p0: without log det Σ the mode would run to large p0; with it, it is exact."""
    emu = varying_standin()
    cov = 1e-3 * np.eye(18)
    obs = observe(emu, np.array([0.0, 0.0, 0.0]), cov, seed=4, noise_cov=np.diag(np.full(18, 0.7)))
    like = build_likelihood(emu, obs, emulator_variance="aleatoric", fix={"p1": 0.0, "p2": 0.0})
    grid = np.linspace(-0.99, 0.99, 397)
    ours = np.asarray(jax.vmap(like.log_density)(jnp.asarray(grid[:, None], jnp.float32)))
    d = obs.data_vector()
    exact, no_logdet = [], []
    for p0 in grid:
        sigma = cov + np.diag(0.3 * np.exp(1.5 * p0) * np.ones(18))
        resid = d - (emu.A[:, 0].astype(float) * p0 + emu.b)
        exact.append(multivariate_normal.logpdf(d, d - resid, sigma))
        no_logdet.append(-0.5 * resid @ np.linalg.solve(sigma, resid))
    exact, no_logdet = np.array(exact), np.array(no_logdet)
    assert grid[np.argmax(ours)] == grid[np.argmax(exact)]
    assert abs(grid[np.argmax(no_logdet)] - grid[np.argmax(exact)]) > 0.1
    np.testing.assert_allclose(ours - ours.max(), exact - exact.max(), atol=1e-3 * np.ptp(exact))


def test_log_xi_space_uses_the_delta_method() -> None:
    emu = make_standin(seed=2, posterior_sd=0.3)
    emu.b = emu.b + np.concatenate([np.full(6, 30.0), np.zeros(12)]).astype(np.float32)  # positive ξ
    cov = random_cov(18, seed=5, scale=0.05)
    obs = observe(emu, np.zeros(3), cov, seed=6)
    like = build_likelihood(emu, obs, xi_space="log", emulator_variance="both")
    theta = np.array([0.3, -0.2, 0.5])
    mean = emu.A.astype(float) @ theta + emu.b
    var = (emu.aleatoric + emu.epistemic).astype(float)
    jac = np.ones(18)
    jac[:6] = 1.0 / obs.values["xi"]
    data = np.concatenate([np.log(obs.values["xi"]), obs.data_vector()[6:]])
    model = np.concatenate([np.log(mean[:6]), mean[6:]])
    model_var = var.copy()
    model_var[:6] /= mean[:6] ** 2
    expected = multivariate_normal.logpdf(data, model, np.outer(jac, jac) * cov + np.diag(model_var))
    assert float(like.log_likelihood(jnp.asarray(theta, jnp.float32))) == pytest.approx(expected, rel=2e-5)
    negative = Observation(obs.r, {**obs.values, "xi": -obs.values["xi"]}, obs.cov, name="neg.h5")
    with pytest.raises(InputError, match="neg.h5: /xi: log space needs positive"):
        build_likelihood(emu, negative, xi_space="log")


def ar1_correlation(k: int, rho: float) -> np.ndarray:
    idx = np.arange(k)
    return rho ** np.abs(idx[:, None] - idx[None, :])


@pytest.mark.parametrize("xi_space", ["linear", "log"])
@pytest.mark.parametrize("mode", list(VARIANCE))
def test_noise_correlation_enters_the_aleatoric_covariance(mode: str, xi_space: str) -> None:
    """With a noise correlation C, the aleatoric part is diag(σ) C diag(σ) on the chosen statistics' bins
    (scaled by 1/ξ̄ in log space); epistemic stays diagonal; without aleatoric variance C plays no part."""
    emu = varying_standin()
    emu.b = emu.b + np.concatenate([np.full(6, 30.0), np.zeros(12)]).astype(np.float32)  # positive ξ
    emu.noise_correlation = ar1_correlation(18, 0.7)
    cov = random_cov(18, seed=8, scale=0.05)
    obs = observe(emu, np.zeros(3), cov, seed=9).select(("xi", "eta"))
    like = build_likelihood(emu, obs, emulator_variance=mode, xi_space=xi_space)
    keep = np.r_[0:6, 12:18]
    assert (like.noise_correlation is None) == (mode in ("none", "epistemic"))
    for theta in np.random.default_rng(10).uniform(-1, 1, size=(3, 3)):
        alea, epi = (np.asarray(v, float)[keep] for v in emu.var_fn(jnp.asarray(theta)))
        mean = (emu.A.astype(float) @ theta + emu.b)[keep]
        sd = np.sqrt(alea) * (mode in ("aleatoric", "both"))
        emu_cov = np.outer(sd, sd) * ar1_correlation(18, 0.7)[np.ix_(keep, keep)]
        emu_cov += np.diag(epi * (mode in ("epistemic", "both")))
        data, model, data_cov = obs.data_vector(), mean.copy(), obs.cov
        if xi_space == "log":
            jac = np.ones(12)
            jac[:6] = 1.0 / mean[:6]
            data_jac = np.ones(12)
            data_jac[:6] = 1.0 / data[:6]
            data, model = np.r_[np.log(data[:6]), data[6:]], np.r_[np.log(mean[:6]), mean[6:]]
            emu_cov, data_cov = np.outer(jac, jac) * emu_cov, np.outer(data_jac, data_jac) * data_cov
        expected = multivariate_normal.logpdf(data, model, data_cov + emu_cov)
        got = float(like.log_likelihood(jnp.asarray(theta, jnp.float32)))
        assert got == pytest.approx(expected, rel=2e-5)
        if mode in ("aleatoric", "both"):  # the correlation matters: the diagonal form differs
            diag_only = multivariate_normal.logpdf(data, model, data_cov + np.diag(np.diag(emu_cov)))
            assert abs(got - diag_only) > 0.05


@pytest.mark.parametrize("n_realisations", [1, 4])
@pytest.mark.parametrize("mode", list(VARIANCE))
def test_emulator_error_enters_the_epistemic_covariance(mode: str, n_realisations: int) -> None:
    """With an excess error E (units of one realisation's σ), the epistemic part gains σ₁ E σ₁ with
    σ₁ = σ √n (the aleatoric variance is that of the mean of n); without epistemic variance E plays no
    part."""
    emu = varying_standin()
    emu.noise_correlation = ar1_correlation(18, 0.5)
    u = np.linspace(-1, 1, 18)
    emu.error_covariance = 0.3 * np.exp(-0.5 * (u[:, None] - u[None, :]) ** 2 / 0.3**2)
    emu.n_realisations = n_realisations
    cov = random_cov(18, seed=11, scale=0.05)
    obs = observe(emu, np.zeros(3), cov, seed=12).select(("omega", "eta"))
    like = build_likelihood(emu, obs, emulator_variance=mode)
    keep = np.r_[6:18]
    assert (like.error_covariance is None) == (mode in ("none", "aleatoric"))
    for theta in np.random.default_rng(13).uniform(-1, 1, size=(3, 3)):
        alea, epi = (np.asarray(v, float)[keep] for v in emu.var_fn(jnp.asarray(theta)))
        mean = (emu.A.astype(float) @ theta + emu.b)[keep]
        sd = np.sqrt(alea)
        emu_cov = np.zeros((12, 12))
        if mode in ("aleatoric", "both"):
            emu_cov += np.outer(sd, sd) * ar1_correlation(18, 0.5)[np.ix_(keep, keep)]
        if mode in ("epistemic", "both"):
            single = sd * np.sqrt(n_realisations)
            emu_cov += np.diag(epi) + np.outer(single, single) * emu.error_covariance[np.ix_(keep, keep)]
        expected = multivariate_normal.logpdf(obs.data_vector(), mean, obs.cov + emu_cov)
        got = float(like.log_likelihood(jnp.asarray(theta, jnp.float32)))
        assert got == pytest.approx(expected, rel=2e-5)
        np.testing.assert_allclose(
            np.asarray(like.emulator_covariance(jnp.asarray(theta, jnp.float32))), emu_cov, rtol=1e-4,
            atol=1e-6,
        )


@pytest.mark.parametrize("mode", list(VARIANCE))
def test_covariance_amplitude_multiplies_the_emulator_covariance(mode: str) -> None:
    """With an amplitude a(θ) beside E, the whole emulator covariance (never the data's) is a(θ) times
    what it is without one, in every form that uses E; without E it plays no part."""
    emu = varying_standin()
    emu.noise_correlation = ar1_correlation(18, 0.5)
    emu.error_covariance = 0.2 * np.eye(18)
    cov = random_cov(18, seed=21, scale=0.05)
    obs = observe(emu, np.zeros(3), cov, seed=22)
    thetas = np.random.default_rng(23).uniform(-1, 1, size=(3, 3))
    without = build_likelihood(emu, obs, emulator_variance=mode)
    bases = [np.asarray(without.emulator_covariance(jnp.asarray(t, jnp.float32)), float) for t in thetas]
    emu.covariance_amplitude = lambda theta: jnp.exp(0.4 * theta[0] - 0.3 * theta[2])
    like = build_likelihood(emu, obs, emulator_variance=mode)
    for theta, base in zip(thetas, bases, strict=True):
        t = jnp.asarray(theta, jnp.float32)
        factor = np.exp(0.4 * theta[0] - 0.3 * theta[2]) if mode in ("epistemic", "both") else 1.0
        got = np.asarray(like.emulator_covariance(t))
        np.testing.assert_allclose(got, factor * base, rtol=1e-4, atol=1e-7)
        mean = emu.A.astype(float) @ theta + emu.b
        expected = multivariate_normal.logpdf(obs.data_vector(), mean, obs.cov + factor * base)
        assert float(like.log_likelihood(t)) == pytest.approx(expected, rel=2e-5)


@pytest.mark.parametrize("correlated", [True, False], ids=["noise-correlation", "no-correlation"])
def test_frozen_emulator_covariance_is_held_at_the_reference_point(correlated: bool) -> None:
    """frozen_at(θ0): the covariance is data + emulator covariance at θ0 for every θ (the mean still
    follows θ); at θ0 it is the varying likelihood, elsewhere it is not."""
    emu = varying_standin()
    if correlated:
        emu.noise_correlation = ar1_correlation(18, 0.6)
    cov = random_cov(18, seed=4, scale=0.3)
    obs = observe(emu, np.array([0.2, -0.3, 0.1]), cov, seed=5)
    like = build_likelihood(emu, obs, emulator_variance="both")
    ref = np.array([0.3, -0.5, 0.0])
    frozen = like.frozen_at(ref)
    alea, epi = (np.asarray(v, float) for v in emu.var_fn(jnp.asarray(ref)))
    corr = ar1_correlation(18, 0.6) if correlated else np.eye(18)
    held = cov + np.outer(np.sqrt(alea), np.sqrt(alea)) * corr + np.diag(epi)
    for theta in (ref, np.array([-0.6, 0.4, 0.5]), np.array([0.9, 0.9, -0.9])):
        mean = emu.A.astype(float) @ theta + emu.b
        expected = multivariate_normal.logpdf(obs.data_vector(), mean, held)
        got = float(frozen.log_likelihood(jnp.asarray(theta, jnp.float32)))
        assert got == pytest.approx(expected, rel=2e-5)
        varying = float(like.log_likelihood(jnp.asarray(theta, jnp.float32)))
        assert (varying == pytest.approx(got, rel=2e-5)) == (theta is ref)
        # the gradient is that of the mean alone: A^T Σ^-1 (d - μ) for the linear stand-in
        grad = jax.grad(frozen.log_likelihood)(jnp.asarray(theta, jnp.float32))
        exact = emu.A.astype(float).T @ np.linalg.solve(held, obs.data_vector() - mean)
        np.testing.assert_allclose(np.asarray(grad, float), exact, rtol=1e-3, atol=1e-3 * np.abs(exact).max())


def test_prior_box_fixed_values_and_narrowing() -> None:
    emu = make_standin()
    space = parameter_space(emu, fix={"p1": 0.5}, bounds={"p0": (-0.5, 0.25)})
    assert space.free == ("p0", "p2")
    np.testing.assert_allclose(np.asarray(space.full(jnp.array([0.1, -0.7]))), [0.1, 0.5, -0.7], rtol=1e-6)
    like = build_likelihood(
        emu, observe(emu, np.zeros(3), random_cov(18, 0), 0), fix={"p1": 0.5}, bounds={"p0": (-0.5, 0.25)}
    )
    inside = like.log_density(jnp.array([0.0, 0.0]))
    expected = like.log_likelihood(jnp.array([0.0, 0.5, 0.0])) - np.log(0.75 * 2.0)
    assert float(inside) == pytest.approx(float(expected), rel=1e-6)
    assert float(like.log_density(jnp.array([0.3, 0.0]))) == -np.inf  # outside the narrowed prior
    with pytest.raises(
        InputError, match="fix: unknown parameter 'logMmin' \\(expected one of p0, p1, p2\\)"
    ):
        parameter_space(emu, fix={"logMmin": 12.0})
    with pytest.raises(InputError, match="fix: p2=1.5 is outside the prior \\[-1, 1\\]"):
        parameter_space(emu, fix={"p2": 1.5})
    with pytest.raises(InputError, match="fix: p0=0.5 is outside the prior \\[-0.5, 0.25\\]"):
        parameter_space(emu, fix={"p0": 0.5}, bounds={"p0": (-0.5, 0.25)})
    with pytest.raises(InputError, match="bounds: p0"):
        parameter_space(emu, bounds={"p0": (-2.0, 0.0)})
    with pytest.raises(InputError, match="every parameter is fixed"):
        parameter_space(emu, fix={"p0": 0.0, "p1": 0.0, "p2": 0.0})
    with pytest.raises(InputError, match="outside the prior box: p1=2 not in \\[-1, 1\\]"):
        space.check(np.array([0.0, 2.0, 0.0]))


def test_statistics_and_bins_are_checked() -> None:
    emu = make_standin()
    obs = observe(emu, np.zeros(3), random_cov(18, 0), 0)
    only_xi = obs.select(("xi",))
    with pytest.raises(
        InputError, match="standin.h5: /eta: missing; the fit uses xi,eta but the file has xi"
    ):
        build_likelihood(emu, only_xi, stats=("xi", "eta"))
    like = build_likelihood(emu, obs, stats=("omega",))
    assert like.stats == ("omega",) and like.data.shape == (6,)
    np.testing.assert_array_equal(like.data, obs.values["omega"])
    shifted = Observation(obs.r * 1.1, obs.values, obs.cov, name="other.h5")
    with pytest.raises(InputError) as err:
        build_likelihood(emu, shifted)
    message = str(err.value)
    assert "other.h5: /r: bins differ" in message and "--interpolate" in message
    for r in (obs.r, obs.r * 1.1):  # both binnings named
        assert f"6 bins, r = {r[0]:.4g}..{r[-1]:.4g} Mpc/h" in message


def test_interpolation_maps_the_model_onto_the_observation_radii() -> None:
    """A model linear in log r is reproduced exactly at radii between the emulator's."""
    r = np.logspace(-1, 1, 8)
    k = 8
    A = np.zeros((k, 1))
    A[:, 0] = np.log(r)
    emu = LinearGaussianEmulator(
        A, 2.0 * np.ones(k), [-1.0], [1.0], r, np.ones(k), np.ones(k), statistics=("eta",)
    )
    r_obs = np.sqrt(r[1:] * r[:-1])[1:5]
    obs = Observation(r_obs, {"eta": np.zeros(4)}, np.eye(4), name="coarse.h5")
    like = build_likelihood(emu, obs, interpolate=True, emulator_variance="none")
    mean, _ = like.model(jnp.array([0.7]))
    np.testing.assert_allclose(np.asarray(mean), 0.7 * np.log(r_obs) + 2.0, rtol=1e-5)
    wide = Observation(np.array([0.05, 1.0]), {"eta": np.zeros(2)}, np.eye(2), name="wide.h5")
    with pytest.raises(InputError, match="wide.h5: /r: outside the emulator's radii, no extrapolation"):
        build_likelihood(emu, wide, interpolate=True)
