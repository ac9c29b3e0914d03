"""Goodness of fit of an IA posterior: χ² of the data at the posterior mean and at the best fit, its p-value,
and a posterior-predictive p-value (docs/ARCHITECTURE.md 3.5: the ``goodness_of_fit`` entry of summary.json).

χ²(θ) = dᵀ Σ(θ)⁻¹ d with d = data − model(θ) and Σ(θ) = C_data + κ C_emu(θ), the covariance the
fit holds (:meth:`inference.ia.likelihood.IALikelihood.held_covariance`; C_data already corrected for a
jackknife estimate). The best fit is the point of least χ² among the posterior mean and the draws. Degrees of
freedom: data points − free parameters.
The posterior-predictive p-value is the fraction of draws θ_s for which data drawn from N(model(θ_s), Σ(θ_s))
have a χ² at least the observed one (Gelman, Meng & Stern 1996).

Where the fit's draws were shifted by its calibration's D (:mod:`inference.ia.posterior_calibration`: the
data follow the emulator at θ + δ), all of this reads the sampler's own draws, the posterior of θ + δ: the
data depend on θ only through θ + δ, so that is the posterior predictive, and the shift would otherwise
count the emulator's error against the data a second time.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import chi2 as chi2_dist

from inference.ia.likelihood import IALikelihood
from inference.sampling.nuts import SamplerResult

P_WARN = 0.001  # below this p-value `iaemu fit` warns that the model does not describe the data
MAX_DRAWS = 2000  # draws searched for the best fit (thinned evenly)


def free_draws(like: IALikelihood, result: SamplerResult) -> np.ndarray:
    """The sampler's own draws of the free parameters (before any calibration shift), chains pooled: (S, F),
    physical units."""
    samples = result.samples if result.sampler_samples is None else result.sampler_samples
    return np.stack([np.asarray(samples[n], dtype=np.float64).reshape(-1) for n in like.space.free], 1)


def model_and_covariance(like: IALikelihood, theta_free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model vectors (S, K) and the covariances Σ (S, K, K) at free-parameter points (S, F)."""

    def one(free: jax.Array) -> tuple[jax.Array, jax.Array]:
        full = like.space.full(free)
        mean = like.model(full)[0]
        return mean, jnp.asarray(like.cov) + like.held_covariance(full)

    mean, cov = jax.jit(jax.vmap(one))(jnp.asarray(theta_free, dtype=jnp.float32))
    cov = np.asarray(cov, dtype=np.float64)
    return np.asarray(mean, dtype=np.float64), 0.5 * (cov + np.swapaxes(cov, 1, 2))  # float32 rounding


@dataclass(frozen=True)
class PosteriorModel:
    """The model and the held covariance at the posterior mean (row 0) and at up to :data:`MAX_DRAWS`
    evenly thinned draws (rows 1..): what the goodness of fit and ppc.png both read, evaluated once."""

    points: np.ndarray  # (S + 1, F) free parameters, physical units
    mean: np.ndarray  # (S + 1, K) model vectors in the likelihood's space
    cov: np.ndarray  # (S + 1, K, K) covariances Σ


def posterior_model(like: IALikelihood, result: SamplerResult) -> PosteriorModel:
    """Evaluate :class:`PosteriorModel` for ``result``'s draws (one compiled program)."""
    draws = free_draws(like, result)
    thin = draws[np.linspace(0, len(draws) - 1, min(MAX_DRAWS, len(draws))).round().astype(int)]
    points = np.concatenate([draws.mean(axis=0, keepdims=True), thin])
    return PosteriorModel(points, *model_and_covariance(like, points))


def chi2_of(data: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """χ² of ``data`` (K,) or (S, K) against models (S, K) with covariances (S, K, K)."""
    residual = np.broadcast_to(data, mean.shape) - mean
    return np.einsum("sk,sk->s", residual, np.linalg.solve(cov, residual[..., None])[..., 0])


def goodness_of_fit(like: IALikelihood, result: SamplerResult, *, n_ppc: int = 200, seed: int = 0,
                    model: PosteriorModel | None = None) -> dict:
    """χ² at the posterior mean and the best fit, degrees of freedom, p-values (see the module docstring);
    ``model``: :func:`posterior_model` of ``result`` when the caller has it already."""
    model = model or posterior_model(like, result)
    points, mean, cov = model.points, model.mean, model.cov
    chi2 = chi2_of(like.data, mean, cov)
    k, n_free = like.data.size, points.shape[1]
    dof = k - n_free
    best = int(np.argmin(chi2))  # the posterior mean competes too
    rng = np.random.default_rng(seed)
    pick = 1 + rng.choice(len(points) - 1, size=min(n_ppc, len(points) - 1), replace=False)
    replicas = np.stack([mean[i] + np.linalg.cholesky(cov[i]) @ rng.standard_normal(k) for i in pick])
    exceed = chi2_of(replicas, mean[pick], cov[pick]) >= chi2[pick]
    return {
        "chi2_mean": float(chi2[0]),
        "chi2_best": float(chi2[best]),
        "best_fit": {n: float(v) for n, v in zip(like.space.free, points[best], strict=True)},
        "n_data": int(k),
        "n_free": int(n_free),
        "dof": int(dof),
        "p_value": float(chi2_dist.sf(chi2[best], dof)) if dof > 0 else None,
        "ppc_p_value": float(exceed.mean()),
        "ppc_draws": int(len(pick)),
    }


def describe(gof: dict) -> str:
    """One line for the terminal: χ², dof and p-values."""
    p = "n/a (no degrees of freedom)" if gof["p_value"] is None else f"{gof['p_value']:.3g}"
    return (f"goodness of fit: χ² = {gof['chi2_best']:.1f} at the best fit ({gof['chi2_mean']:.1f} at the "
            f"posterior mean) for {gof['dof']} dof ({gof['n_data']} data points − {gof['n_free']} free), "
            f"p = {p}; posterior-predictive p = {gof['ppc_p_value']:.3f}")


def warning(gof: dict) -> str | None:
    """The warning line when the best fit's p-value is below :data:`P_WARN`, else None."""
    p = gof["p_value"]
    if p is None or p >= P_WARN:
        return None
    return (f"warning: the model does not describe the data: χ² = {gof['chi2_best']:.1f} for "
            f"{gof['dof']} dof, p = {p:.2g} < {P_WARN:g} (residuals in ppc.png)")
