"""Goodness of fit and the jackknife corrections, on the analytic stand-in with known posteriors."""

from __future__ import annotations

from dataclasses import replace

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import chi2 as chi2_dist

from common.errors import InputError
from inference.ia.goodness import goodness_of_fit, warning
from inference.ia.likelihood import build_likelihood
from inference.sampling.nuts import SamplerResult
from tests.inference.ia.standin import exact_posterior, make_standin, observe, random_cov

THETA = np.array([0.2, -0.3, 0.1])


def posterior_draws(like, emu, cov, n: int = 4000, seed: int = 0) -> SamplerResult:
    """Exact posterior draws of the linear stand-in (flat prior), as a sampler would return them."""
    mean, post_cov = exact_posterior(emu.A, emu.b, like.data, cov)
    draws = np.random.default_rng(seed).multivariate_normal(mean, post_cov, size=n).reshape(4, n // 4, -1)
    samples = {name: draws[..., i] for i, name in enumerate(like.space.free)}
    return SamplerResult("exact", samples, {}, 0.0, 0.0, 0, 0, {})


def test_a_model_that_describes_the_data_passes_and_one_that_does_not_fails() -> None:
    emu = make_standin(seed=4)
    cov = random_cov(18, 5, scale=0.01)
    obs = observe(emu, THETA, cov, seed=6)
    like = build_likelihood(emu, obs, emulator_variance="none")
    gof = goodness_of_fit(like, posterior_draws(like, emu, cov))
    mean, _ = exact_posterior(emu.A, emu.b, like.data, cov)
    residual = like.data - (emu.A.astype(float) @ mean + emu.b)
    chi2_min = residual @ np.linalg.solve(cov, residual)  # the least χ² any parameters can reach
    assert gof["dof"] == 15 and gof["n_data"] == 18 and gof["n_free"] == 3
    assert gof["chi2_best"] <= gof["chi2_mean"]
    assert gof["chi2_best"] == pytest.approx(chi2_min, rel=0.01)  # float32 model, float64 reference
    assert gof["p_value"] == pytest.approx(chi2_dist.sf(gof["chi2_best"], 15)) and gof["p_value"] > 0.01
    assert 0.05 < gof["ppc_p_value"] < 0.95 and warning(gof) is None
    shifted = replace(obs, values={**obs.values, "omega": obs.values["omega"] + 1.0})  # 10σ off in 6 bins
    bad = build_likelihood(emu, shifted, emulator_variance="none")
    gof_bad = goodness_of_fit(bad, posterior_draws(bad, emu, cov))
    assert gof_bad["p_value"] < 1e-3 and gof_bad["ppc_p_value"] < 0.01
    assert warning(gof_bad).startswith("warning: the model does not describe the data")


def test_hartlap_and_sellentin_heavens_on_a_known_case() -> None:
    """30 sub-volumes, 6 data points: the Hartlap factor is (30 − 6 − 2)/(30 − 1) = 22/29 on the inverse;
    Sellentin–Heavens is −N/2 log(1 + χ²/(N − 1)) − ½ log det Σ."""
    emu = make_standin(n_bins=3, seed=2, stats=("xi", "omega"))
    cov = random_cov(6, 1, scale=0.02)
    obs = replace(observe(emu, THETA, cov, seed=3), jackknife=30)
    hartlap = build_likelihood(emu, obs, emulator_variance="none")
    np.testing.assert_allclose(hartlap.cov, cov * 29 / 22, rtol=1e-12)
    assert hartlap.correction == {"kind": "hartlap", "jackknife": 30, "factor": 22 / 29}
    plain = build_likelihood(emu, obs, emulator_variance="none", covariance_correction="none")
    np.testing.assert_array_equal(plain.cov, cov)
    sh = build_likelihood(emu, obs, emulator_variance="none", covariance_correction="sellentin-heavens")
    for theta in (THETA, np.zeros(3)):
        r = like_residual = obs.data_vector() - (emu.A.astype(float) @ theta + emu.b)
        chi2 = like_residual @ np.linalg.solve(cov, r)
        expected = -15 * np.log1p(chi2 / 29) - 0.5 * np.linalg.slogdet(cov)[1]
        assert float(sh.log_likelihood(jnp.asarray(theta, jnp.float32))) == pytest.approx(expected, rel=2e-4)
    with pytest.raises(InputError, match="standin.h5: jackknife: 8 sub-volumes for 6 data points"):
        replace(obs, jackknife=8)
    assert build_likelihood(emu, replace(obs, jackknife=9), stats=("omega",)).correction["factor"] == 4 / 8
