"""NUTS and emcee recover the exact mean and covariance of a correlated Gaussian within Monte-Carlo error."""

import arviz as az
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest

from common.errors import InputError
from inference.sampling.emcee_sampler import run_emcee
from inference.sampling.nuts import LogDensity, run_nuts

MU = np.array([1.0, -2.0, 0.5])
COV = np.array([[1.0, 0.8, 0.1], [0.8, 2.0, -0.3], [0.1, -0.3, 0.5]])
CHOL = np.linalg.cholesky(COV)


def gaussian(mu, cov):
    numpyro.sample("x", dist.MultivariateNormal(mu, cov))


def assert_moments(draws: np.ndarray) -> None:
    """Mean and covariance within 4 Monte-Carlo standard errors, each error from its own ESS (ArviZ)."""
    x = np.asarray(draws, dtype=np.float64)  # (chains, draws, 3)
    for i in range(3):
        ess = float(az.ess(x[..., i], method="mean"))
        error = np.sqrt(COV[i, i] / ess)
        assert abs(x[..., i].mean() - MU[i]) < 4 * error, (i, x[..., i].mean(), error)
        for j in range(i, 3):
            product = (x[..., i] - MU[i]) * (x[..., j] - MU[j])
            error = product.std() / np.sqrt(float(az.ess(product, method="mean")))
            assert abs(product.mean() - COV[i, j]) < 4 * error, (i, j, product.mean(), error)


@pytest.mark.parametrize("chain_method", ["vectorized", "sequential"])
def test_nuts_on_a_model_recovers_a_correlated_gaussian(chain_method: str) -> None:
    result = run_nuts(gaussian, model_args=(jnp.asarray(MU), jnp.asarray(COV)), chains=4, warmup=300,
                      samples=1000, seed=3, chain_method=chain_method, quiet=True)
    assert result.settings["chain_method"] == chain_method
    assert result.samples["x"].shape == (4, 1000, 3)
    assert_moments(result.samples["x"])
    assert result.sample_stats["diverging"].sum() == 0
    # every gradient of warm-up and sampling is counted: at least one leapfrog step per iteration
    assert result.n_gradient_evals >= 4 * 1300
    assert result.n_gradient_evals == result.n_density_evals
    assert result.compile_time_s > 0 and result.wall_time_s > 0


def test_nuts_on_a_log_density_with_a_constraint_map() -> None:
    # sample a standard normal y, report x = mu + L y: x must be N(mu, cov)
    target = LogDensity(fn=lambda p: -0.5 * jnp.sum(p["y"] ** 2),
                        constrain=lambda p: {"x": jnp.asarray(MU) + jnp.asarray(CHOL) @ p["y"]})
    result = run_nuts(target, init={"y": jnp.zeros(3)}, chains=4, warmup=300, samples=1000, seed=5,
                      quiet=True)
    assert_moments(result.samples["x"])


def test_emcee_recovers_a_correlated_gaussian() -> None:
    result = run_emcee(gaussian, model_args=(jnp.asarray(MU), jnp.asarray(COV)), walkers=16, steps=4000,
                       burn=1000, seed=2, quiet=True)
    assert result.samples["x"].shape == (16, 3000, 3)
    assert_moments(result.samples["x"])
    assert result.n_density_evals == 16 * (4000 + 1) and result.n_gradient_evals == 0  # + the start
    assert 0.2 < result.settings["acceptance_fraction"] < 0.8


def test_emcee_is_reproducible_from_its_seed() -> None:
    target = LogDensity(fn=lambda p: -0.5 * jnp.sum(p["y"] ** 2))
    runs = [run_emcee(target, init={"y": jnp.zeros(2)}, walkers=8, steps=60, burn=10, seed=s, quiet=True)
            for s in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0].samples["y"], runs[1].samples["y"])
    assert not np.array_equal(runs[0].samples["y"], runs[2].samples["y"])


def test_nuts_is_reproducible_and_reuses_its_compiled_program() -> None:
    target = LogDensity(fn=lambda p: -0.5 * jnp.sum((p["y"] - 1.0) ** 2))
    runs = [run_nuts(target, init={"y": jnp.zeros(2)}, chains=2, warmup=50, samples=50, seed=s, quiet=True)
            for s in (4, 4, 9)]
    np.testing.assert_array_equal(runs[0].samples["y"], runs[1].samples["y"])
    assert not np.array_equal(runs[0].samples["y"], runs[2].samples["y"])
    assert runs[0].compile_time_s > 0 and runs[1].compile_time_s == 0.0


@pytest.mark.parametrize("chain_method", ["vectorized", "sequential"])
def test_batched_nuts_fits_each_dataset_on_its_own(chain_method: str) -> None:
    # three datasets of 40 points from N(m, 1): posterior of the mean under a flat prior is N(ybar, 1/40)
    rng = np.random.default_rng(0)
    data = rng.normal(np.array([[-3.0], [0.0], [5.0]]), 1.0, size=(3, 40))

    def model(y):
        m = numpyro.sample("m", dist.ImproperUniform(dist.constraints.real, (), ()))
        numpyro.sample("y", dist.Normal(m, 1.0), obs=y)

    result = run_nuts(model, model_args=(jnp.asarray(data),), chains=2, warmup=200, samples=400, seed=1,
                      batch=True, chain_method=chain_method, quiet=True)
    assert result.samples["m"].shape == (3, 2, 400)
    for b in range(3):
        m = result.item(b).samples["m"]
        error = np.sqrt(1 / 40 / float(az.ess(m, method="mean")))
        assert abs(m.mean() - data[b].mean()) < 4 * error
        assert abs(m.std() - np.sqrt(1 / 40)) < 0.15 * np.sqrt(1 / 40)


def two_peaks(m):
    x = numpyro.sample("x", dist.Uniform(-3.0, 3.0))
    numpyro.factor("peaks", jnp.logaddexp(-0.5 * ((x - m) / 0.05) ** 2, -0.5 * ((x + m) / 0.05) ** 2))


def test_batched_nuts_starts_each_dataset_where_its_init_says() -> None:
    """Two peaks 4 apart with sd 0.05 cannot be crossed: each dataset's chains stay at their own start."""
    result = run_nuts(two_peaks, model_args=(jnp.asarray([2.0, 2.0]),), init={"x": np.array([2.0, -2.0])},
                      chains=2, warmup=100, samples=100, batch=True, seed=3, quiet=True)
    means = np.asarray(result.samples["x"]).mean(axis=(1, 2))
    np.testing.assert_allclose(means, [2.0, -2.0], atol=0.05)


def test_bad_sampler_settings_are_input_errors() -> None:
    target = LogDensity(fn=lambda p: -0.5 * jnp.sum(p["y"] ** 2))
    with pytest.raises(InputError, match="starting point"):
        run_nuts(target, quiet=True)
    with pytest.raises(InputError, match="chain_method"):
        run_nuts(target, init={"y": jnp.zeros(1)}, chain_method="parallel", quiet=True)
    with pytest.raises(InputError, match="walkers"):
        run_emcee(target, init={"y": jnp.zeros(5)}, walkers=6, quiet=True)
    with pytest.raises(InputError, match="burn"):
        run_emcee(target, init={"y": jnp.zeros(1)}, walkers=4, steps=10, burn=10, quiet=True)


def _max_rhat(draws: np.ndarray) -> float:
    return max(float(az.rhat(draws[..., i])) for i in range(draws.shape[-1]))


def test_nuts_goes_on_until_rhat_is_below_the_target() -> None:
    """The chains are continued, not restarted: the first draws are those of a run without a target, the
    step size stays at its adapted value, and the run stops once R-hat is below the target."""
    target = LogDensity(fn=lambda p: -0.5 * jnp.sum(p["y"] ** 2))
    args = {"init": {"y": jnp.zeros(3)}, "chains": 4, "warmup": 100, "samples": 30, "seed": 2, "quiet": True}
    plain = run_nuts(target, **args)
    assert _max_rhat(plain.samples["y"]) >= 1.01  # 30 draws per chain are not enough
    longer = run_nuts(target, rhat_target=1.01, max_samples=3000, **args)
    drawn = longer.samples["y"].shape[1]
    assert 30 < drawn < 3000 and (drawn - 30) % 15 == 0  # steps of samples // 2
    np.testing.assert_array_equal(longer.samples["y"][:, :30], plain.samples["y"])
    assert _max_rhat(longer.samples["y"]) < 1.01
    assert _max_rhat(longer.samples["y"][:, :-15]) >= 1.01  # it did not stop later than needed
    step = longer.sample_stats["step_size"]
    np.testing.assert_array_equal(step, np.broadcast_to(step[:, :1], step.shape))
    assert longer.settings["samples"] == drawn and longer.settings["rhat_target"] == 1.01


def test_nuts_stops_at_max_samples_when_chains_never_mix() -> None:
    # two peaks 4 apart with sd 0.05: chains that start on different peaks never agree
    result = run_nuts(two_peaks, model_args=(jnp.asarray(2.0),), chains=4, warmup=100, samples=40, seed=0,
                      rhat_target=1.01, max_samples=100, quiet=True)
    signs = np.sign(np.asarray(result.samples["x"]).mean(axis=1))
    assert set(signs) == {-1.0, 1.0}, signs
    assert result.samples["x"].shape == (4, 100)
    with pytest.raises(InputError, match="max_samples"):
        run_nuts(two_peaks, model_args=(jnp.asarray(2.0),), samples=40, rhat_target=1.01, max_samples=20,
                 quiet=True)
