"""An analytic stand-in for the emulator: statistics linear in the parameters, known Gaussian posterior.

It has the interface of :class:`emulators.ia.interface.Emulator`, so it plugs into the same likelihood,
samplers and validation as the JAX port of a trained emulator.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from common.hashing import hash_arrays
from emulators.ia.interface import Prediction
from inference.ia.observations import Observation


class LinearGaussianEmulator:
    """mean(θ) = (A θ + b) as (S, B); variances constant, or ``var_fn(θ) -> (aleatoric, epistemic)``."""

    name = "linear-gaussian stand-in"

    def __init__(
        self,
        A: np.ndarray,
        b: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        r: np.ndarray,
        aleatoric: np.ndarray,
        epistemic: np.ndarray,
        *,
        statistics: tuple[str, ...] = ("xi", "omega", "eta"),
        var_fn: Callable[[jax.Array], tuple[jax.Array, jax.Array]] | None = None,
    ) -> None:
        self.A, self.b = np.asarray(A, np.float32), np.asarray(b, np.float32)
        self.prior_lo, self.prior_hi = np.asarray(lo, float), np.asarray(hi, float)
        self.param_names = tuple(f"p{i}" for i in range(self.A.shape[1]))
        self.r, self.r_edges, self.statistics = np.asarray(r, float), None, statistics
        self.shape = (len(statistics), self.r.size)
        self.aleatoric, self.epistemic = np.asarray(aleatoric, np.float32), np.asarray(epistemic, np.float32)
        self.var_fn = var_fn

    def predict(self, theta: jax.Array) -> Prediction:
        mean = (jnp.asarray(self.A) @ theta + self.b).reshape(self.shape)
        if self.var_fn is not None:
            alea, epi = self.var_fn(theta)
            return Prediction(mean, alea.reshape(self.shape), epi.reshape(self.shape))
        return Prediction(
            mean,
            jnp.asarray(self.aleatoric.reshape(self.shape)),
            jnp.asarray(self.epistemic.reshape(self.shape)),
        )

    def digest(self) -> str:
        return hash_arrays(self.A, self.b, self.aleatoric, self.epistemic)


def make_standin(
    n_params: int = 3,
    n_bins: int = 6,
    seed: int = 0,
    *,
    posterior_sd: float = 0.05,
    stats: tuple[str, ...] = ("xi", "omega", "eta"),
) -> LinearGaussianEmulator:
    """A random linear stand-in on the box [-1, 1]^P whose posterior sd is about ``posterior_sd``."""
    rng = np.random.default_rng(seed)
    k = len(stats) * n_bins
    A = rng.normal(size=(k, n_params)) * (1.0 / (posterior_sd * np.sqrt(k)))
    b = rng.normal(size=k)
    r = 0.5 * (np.logspace(-1, 1.2, n_bins + 1)[1:] + np.logspace(-1, 1.2, n_bins + 1)[:-1])
    return LinearGaussianEmulator(
        A, b, -np.ones(n_params), np.ones(n_params), r, 0.5 * np.ones(k), 0.25 * np.ones(k), statistics=stats
    )


def random_cov(k: int, seed: int, scale: float = 1.0) -> np.ndarray:
    """A correlated positive-definite (k, k) covariance."""
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(k, k)) / np.sqrt(k)
    return scale * (m @ m.T + 0.5 * np.eye(k))


def observe(
    emu: LinearGaussianEmulator,
    theta: np.ndarray,
    cov: np.ndarray,
    seed: int,
    noise_cov: np.ndarray | None = None,
) -> Observation:
    """An observation at ``theta`` with data covariance ``cov``, noise from ``noise_cov`` (default cov)."""
    rng = np.random.default_rng(seed)
    noise = rng.multivariate_normal(np.zeros(len(cov)), cov if noise_cov is None else noise_cov)
    d = emu.A.astype(float) @ theta + emu.b + noise
    nb = emu.r.size
    values = {s: d[i * nb : (i + 1) * nb] for i, s in enumerate(emu.statistics)}
    return Observation(emu.r, values, cov, name="standin.h5")


def exact_posterior(
    A: np.ndarray, b: np.ndarray, d: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of θ for d ~ N(A θ + b, Σ) under a flat prior (the box's edges far away)."""
    A = np.asarray(A, float)
    prec = A.T @ np.linalg.solve(sigma, A)
    cov = np.linalg.inv(prec)
    return cov @ A.T @ np.linalg.solve(sigma, d - b), cov
