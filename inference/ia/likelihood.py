"""The IA likelihood (docs/ARCHITECTURE.md 4.4): Gaussian on the chosen statistics, uniform priors on the
emulator's box.

Usage::

    like = build_likelihood(emulator, observation, stats=("xi", "omega"), fix={"logMmin": 12.5})
    like.log_density(theta_free)          # jittable; -inf outside the prior box
    run_nuts(like.numpyro_model, model_args=like.model_args)   # inference.sampling.nuts

``emulator`` is anything with the :class:`Emulator` interface: the JAX port of a trained emulator
(:mod:`inference.ia.emulator_jax`) or an analytic stand-in in tests. ``predict(theta)`` takes the P physical
parameters in ``param_names`` order and returns a :class:`Prediction` of (S, B) arrays in physical units
(ξ, ω, η are dimensionless; r in comoving Mpc/h): the mean, the aleatoric variance (the scatter of one
simulator realisation) and the epistemic variance (the emulator's uncertainty about its mean).

The log-likelihood is ``-0.5 [d^T Σ^-1 d + log det Σ + K log 2π]`` with ``d`` = data − model and
``Σ = C_data + diag(v_emu)``; the log-determinant matters whenever ``v_emu`` depends on the parameters.
When the aleatoric variance enters and the emulator carries a noise correlation C across bins
(``noise_correlation``, :mod:`emulators.ia.noise`), its part of ``Σ`` is ``diag(σ) C diag(σ)`` instead of
``diag(σ²)``: one realisation's ξ bins are correlated (0.4–0.8 between neighbours), and treating them as
independent makes the posterior overconfident. When the epistemic variance enters and the emulator carries
an excess error E measured on independent mocks (``error_covariance``, :mod:`emulators.ia.error`), its
part of ``Σ`` gains ``diag(σ₁) E diag(σ₁)`` (σ₁: one realisation's aleatoric sd): the emulator's errors are
correlated across bins and larger than its ensemble's spread says; and the emulator's part of ``Σ`` is
multiplied by the amplitude a(θ) measured with E, which follows how well that covariance describes
independent mocks across the box.

Emulator variance (``emulator_variance``): ``none`` | ``aleatoric`` | ``epistemic`` | ``both``. The default
is ``epistemic``: an observation's covariance already describes its own noise (sample variance,
shape noise), and the emulator's aleatoric variance is that same kind of noise for one mock of the training
volume, so adding it would count the noise twice; the epistemic variance is the emulator's error on the
mean, which no data covariance contains. Use ``both`` when the "observation" is a single simulator
realisation without a covariance of its own (as :mod:`inference.ia.validation.run` does).

Emulator covariance held fixed (:meth:`IALikelihood.frozen_at`; ``emulator_covariance="fixed"``, the default
of :mod:`inference.ia.fit` and :mod:`inference.ia.validation.run`; ``"varying"`` lets it follow θ): the
emulator covariance is evaluated once, at the posterior mode, and added to the data covariance, while the
model mean follows θ, as a covariance is held at a fiducial model in survey analyses. When the emulator's
error entry carries a calibrated factor κ (``covariance_scale``, :mod:`inference.ia.posterior_calibration`),
the held covariance is κ times the emulator covariance (its variance D per parameter, if any, shifts the
posterior draws: :mod:`inference.ia.posterior_calibration`); the varying form and the mode search use
neither. A
Gaussian whose covariance follows θ draws information from the covariance itself, through ``log det Σ(θ)`` and
``d^T Σ(θ)^-1 d``, that the data do not hold (Carron 2013, A&A 551, A88); with a learned σ(θ) part of it is
the network's noise. The measured effect on held-out mocks is in docs/ia_fit_calibration.md.

ξ space (``xi_space``): ``linear`` or ``log``. In log space the data become log ξ with covariance
``C / (ξ ξ^T)`` and the model log ξ̄ with variance ``v / ξ̄²`` (delta method; ξ must be positive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from common.errors import InputError, check_choice
from emulators.ia.interface import Emulator
from inference.ia.binning import BinMap, bin_mapping
from inference.ia.observations import Observation
from inference.ia.parameter_space import ParameterSpace, parameter_space

EmulatorVariance = Literal["none", "aleatoric", "epistemic", "both"]  # what the covariance adds
XiSpace = Literal["linear", "log"]  # ξ fitted as it is or as log ξ
EmulatorCovariance = Literal["varying", "fixed"]  # follows the parameters, or held at the mode
DEFAULT_VARIANCE: EmulatorVariance = "epistemic"
DEFAULT_EMULATOR_COVARIANCE: EmulatorCovariance = "fixed"
CovarianceCorrection = Literal["hartlap", "sellentin-heavens", "none"]  # for a jackknife data covariance


def chi2_logdet(residual: jax.Array, cov: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``residual^T cov^-1 residual`` and ``log det cov`` for a (K,) residual and a (K, K) covariance.

    The covariance is scaled to unit diagonal before its Cholesky factor is taken, so that float32 copes
    with statistics whose variances span many decades (ξ at 0.1 and at 15 Mpc/h).
    """
    sd = jnp.sqrt(jnp.diag(cov))
    chol = jnp.linalg.cholesky(cov / jnp.outer(sd, sd))
    z = jax.scipy.linalg.solve_triangular(chol, residual / sd, lower=True)
    return z @ z, 2.0 * jnp.sum(jnp.log(jnp.diag(chol))) + 2.0 * jnp.sum(jnp.log(sd))


def covariance_loglike(chi2: jax.Array, logdet: jax.Array, k: int, jackknife_t: int | None) -> jax.Array:
    """The log-likelihood from χ² and log det Σ of K data points: Gaussian, or, with ``jackknife_t`` = N
    sub-volumes behind the data covariance, Sellentin & Heavens (2016)'s t-distribution
    ``-N/2 log(1 + χ²/(N-1)) - 1/2 log det Σ`` (up to a constant)."""
    if jackknife_t is None:
        return -0.5 * (chi2 + logdet + k * jnp.log(2.0 * jnp.pi))
    return -0.5 * jackknife_t * jnp.log1p(chi2 / (jackknife_t - 1)) - 0.5 * logdet


def _finite_or_minus_inf(ll: jax.Array) -> jax.Array:
    return jnp.where(jnp.isnan(ll), -jnp.inf, ll)


@dataclass(frozen=True)
class IALikelihood:
    """Gaussian likelihood of an observation given the emulator; see the module docstring."""

    emulator: Emulator
    space: ParameterSpace
    stats: tuple[str, ...]
    r: np.ndarray  # (B,) the observation's radii, Mpc/h
    data: np.ndarray  # (K,) in the likelihood's space
    cov: np.ndarray  # (K, K) data covariance in the likelihood's space
    mapping: BinMap | None  # emulator bins -> observation bins (rebin or interpolate); None when equal
    xi_space: XiSpace
    emulator_variance: EmulatorVariance
    jackknife_t: int | None = None  # Sellentin-Heavens: sub-volumes behind the data covariance
    correction: dict | None = None  # how the data covariance was corrected (recorded in summary.json)

    @property
    def diagonal(self) -> bool:
        """Whether the data covariance is diagonal (covariances passed as arguments must share this)."""
        return bool(np.all(self.cov == np.diag(np.diag(self.cov))))

    @property
    def _emulator_bins(self) -> np.ndarray:
        """Indices of the chosen statistics' bins in the emulator's statistic-major (S·B) order."""
        b = len(self.emulator.r)
        return np.concatenate([b * self.emulator.statistics.index(s) + np.arange(b) for s in self.stats])

    @property
    def noise_correlation(self) -> np.ndarray | None:
        """Correlation of one realisation's noise over the chosen statistics' emulator bins, used when the
        aleatoric variance enters; None when it does not or the emulator has none (bins independent)."""
        corr = getattr(self.emulator, "noise_correlation", None)
        if corr is None or self.emulator_variance not in ("aleatoric", "both"):
            return None
        return np.asarray(corr)[np.ix_(self._emulator_bins, self._emulator_bins)]

    @property
    def error_covariance(self) -> np.ndarray | None:
        """The emulator's excess error E over the chosen statistics' emulator bins, in units of one
        realisation's aleatoric sd (:mod:`emulators.ia.error`), used when the epistemic variance
        enters; None when it does not or the emulator has none."""
        err = getattr(self.emulator, "error_covariance", None)
        if err is None or self.emulator_variance not in ("epistemic", "both"):
            return None
        return np.asarray(err)[np.ix_(self._emulator_bins, self._emulator_bins)]

    @property
    def _correlated(self) -> bool:
        """Whether the emulator covariance has off-diagonal terms (noise correlation or excess error)."""
        return self.noise_correlation is not None or self.error_covariance is not None

    def _blocks(self, theta_full: jax.Array) -> list[tuple[jax.Array, jax.Array, jax.Array, jax.Array]]:
        """Per chosen statistic: model (B_obs,), the linear map J (B_obs, B_emu) from emulator bins to the
        likelihood's space (bin mapping, then 1/ξ̄ in log space), aleatoric and epistemic variance (B_emu,)."""
        pred = self.emulator.predict(theta_full)
        names = self.emulator.statistics
        xi_fine = pred.mean[names.index("xi")] if "xi" in names else None  # weights ω, η when rebinning
        blocks = []
        for s in self.stats:
            i = self.emulator.statistics.index(s)
            m = pred.mean[i]
            jac = jnp.eye(m.size) if self.mapping is None else self.mapping.weights(s, xi_fine)
            m = jac @ m
            if s == "xi" and self.xi_space == "log":
                m, jac = jnp.log(m), jac / m[:, None]
            blocks.append((m, jac, pred.aleatoric[i], pred.epistemic[i]))
        return blocks

    def model(self, theta_full: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Model vector (K,) and emulator variance (K,) in the likelihood's space at all P parameters."""
        alea = self.emulator_variance in ("aleatoric", "both")
        epi = self.emulator_variance in ("epistemic", "both")
        blocks = self._blocks(theta_full)
        var = [jac**2 @ (a * alea + e * epi) for _, jac, a, e in blocks]
        return jnp.concatenate([b[0] for b in blocks]), jnp.concatenate(var)

    def model_covariance(self, theta_full: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Model vector (K,) and emulator covariance (K, K). Aleatoric part: ``A C A^T`` with the noise
        correlation C (identity without one) and ``A = J diag(σ_aleatoric)`` per statistic. Epistemic part:
        the diagonal ensemble variance plus the excess error ``A1 E A1^T``, where ``A1`` uses the sd of ONE
        realisation (σ_aleatoric √n for an aleatoric variance of the mean of n; for log statistics this
        holds to first order in the log-space variance). With E, the whole covariance is multiplied by the
        amplitude a(θ) the error entry carries (the emulator's ``covariance_amplitude``; 1 without one)."""
        blocks = self._blocks(theta_full)
        mean = jnp.concatenate([b[0] for b in blocks])
        cov = jnp.zeros((mean.size, mean.size), mean.dtype)
        scaled = jax.scipy.linalg.block_diag(*[jac * jnp.sqrt(a) for _, jac, a, _ in blocks])
        if self.emulator_variance in ("aleatoric", "both"):
            corr = self.noise_correlation
            corr = jnp.eye(mean.size, dtype=scaled.dtype) if corr is None else jnp.asarray(corr, scaled.dtype)
            cov = cov + scaled @ corr @ scaled.T
        if self.emulator_variance in ("epistemic", "both"):
            cov = cov + jnp.diag(jnp.concatenate([jac**2 @ e for _, jac, _, e in blocks]))
            err = self.error_covariance
            if err is not None:
                single = scaled * np.sqrt(getattr(self.emulator, "n_realisations", 1))
                cov = cov + single @ jnp.asarray(err, scaled.dtype) @ single.T
                amplitude = getattr(self.emulator, "covariance_amplitude", None)
                if amplitude is not None:
                    cov = cov * amplitude(theta_full)
        return mean, cov

    def emulator_covariance(self, theta_full: jax.Array) -> jax.Array:
        """The emulator's covariance (K, K) at all P parameters, in the likelihood's space (zero for
        ``none``): :meth:`model_covariance` when it has off-diagonal terms, ``diag(variance)`` otherwise."""
        if self._correlated:
            return self.model_covariance(theta_full)[1]
        return jnp.diag(self.model(theta_full)[1])

    @property
    def covariance_scale(self) -> float:
        """κ on the held emulator covariance: the emulator's calibrated factor when its excess error E
        enters (``epistemic`` or ``both``), 1 otherwise (:mod:`inference.ia.posterior_calibration`)."""
        if self.error_covariance is None:
            return 1.0
        return float(getattr(self.emulator, "covariance_scale", 1.0))

    @property
    def parameter_variance(self) -> np.ndarray | None:
        """D (P,) of the same calibration as κ, physical units², when E enters (None otherwise): the
        variance of the shift of the posterior draws
        (:func:`inference.ia.posterior_calibration.shifted_draws`)."""
        if self.error_covariance is None:
            return None
        return getattr(self.emulator, "parameter_variance", None)

    def model_mean(self, theta_full: jax.Array) -> jax.Array:
        """The model vector (K,) in the likelihood's space at all P parameters."""
        return jnp.concatenate([block[0] for block in self._blocks(theta_full)])

    def held_covariance(self, theta_full: jax.Array) -> jax.Array:
        """The emulator covariance (K, K) that the fixed form holds: κ × :meth:`emulator_covariance`."""
        return self.covariance_scale * self.emulator_covariance(theta_full)

    def frozen_at(self, theta_full: np.ndarray) -> IALikelihood:
        """This likelihood with the emulator covariance held at ``theta_full`` (:meth:`held_covariance`,
        added to the data covariance) instead of following the parameters (``emulator_variance`` becomes
        ``none``)."""
        cov = self.cov + np.asarray(self.held_covariance(jnp.asarray(theta_full)), float)
        return replace(self, cov=cov, emulator_variance="none")

    @property
    def model_args(self) -> tuple[jax.Array, jax.Array]:
        """(data, cov) as the arguments of :meth:`numpyro_model` (data enter as arguments, not closures)."""
        return jnp.asarray(self.data), jnp.asarray(self.cov)

    def log_likelihood(
        self, theta_full: jax.Array, data: jax.Array | None = None, cov: jax.Array | None = None
    ) -> jax.Array:
        """log L at all P parameters (physical units), of this observation unless ``data, cov`` are given
        (with the same structure, diagonal or not, as the observation's covariance)."""
        data, cov = (
            (self.model_args[0] if data is None else data),
            (self.model_args[1] if cov is None else cov),
        )
        if self._correlated:
            mean, emu_cov = self.model_covariance(theta_full)
            chi2, logdet = chi2_logdet(data - mean, cov + emu_cov)
            return _finite_or_minus_inf(covariance_loglike(chi2, logdet, mean.size, self.jackknife_t))
        if self.emulator_variance == "none":  # Σ does not follow θ: the mean alone, no gradient through Σ
            mean = self.model_mean(theta_full)
            total = cov
        else:
            mean, var = self.model(theta_full)
            total = cov + jnp.diag(var)
        if self.diagonal:  # elementwise: exact, and ~3x cheaper per gradient than through a Cholesky factor
            sigma2 = jnp.diag(total)
            chi2, logdet = jnp.sum((data - mean) ** 2 / sigma2), jnp.sum(jnp.log(sigma2))
        else:
            chi2, logdet = chi2_logdet(data - mean, total)
        return _finite_or_minus_inf(covariance_loglike(chi2, logdet, mean.size, self.jackknife_t))

    def log_density(self, theta_free: jax.Array) -> jax.Array:
        """Log posterior density of the free parameters (physical units); -inf outside the prior box."""
        lo, hi = self.space.lo[self.space.free_index], self.space.hi[self.space.free_index]
        inside = jnp.all((theta_free >= lo) & (theta_free <= hi))
        safe = jnp.where(inside, theta_free, 0.5 * (lo + hi))
        return jnp.where(
            inside, self.log_likelihood(self.space.full(safe)) - np.sum(np.log(hi - lo)), -jnp.inf
        )

    def numpyro_model(self, data: jax.Array, cov: jax.Array) -> None:
        """numpyro model: each free parameter ~ Uniform(lo, hi), the likelihood of ``data, cov`` a factor."""
        import numpyro
        import numpyro.distributions as dist

        idx = self.space.free_index
        free = jnp.stack(
            [
                numpyro.sample(n, dist.Uniform(self.space.lo[i], self.space.hi[i]))
                for n, i in zip(self.space.free, idx, strict=True)
            ]
        )
        numpyro.factor("log_likelihood", self._jitted(self.space.full(free), data, cov))

    @cached_property
    def _jitted(self) -> Callable[[jax.Array, jax.Array, jax.Array], jax.Array]:
        """One compiled program for eager calls (numpyro's initialisation runs the model outside jit)."""
        return jax.jit(self.log_likelihood)


def build_likelihood(
    emulator: Emulator,
    observation: Observation,
    *,
    stats: tuple[str, ...] | None = None,
    xi_space: XiSpace = "linear",
    emulator_variance: EmulatorVariance = DEFAULT_VARIANCE,
    fix: dict[str, float] | None = None,
    bounds: dict[str, tuple[float, float]] | None = None,
    interpolate: bool = False,
    r_range: tuple[float, float] | None = None,
    covariance_correction: CovarianceCorrection = "hartlap",
) -> IALikelihood:
    """Check the observation against the emulator (statistics, bins) and build the likelihood.

    ``r_range`` (Mpc/h) keeps the observation's bins inside it. When the observation's covariance is a
    jackknife estimate from N sub-volumes (``observation.jackknife``), ``covariance_correction`` debiases its
    inverse for the K data points fitted: ``hartlap`` divides the covariance by (N − K − 2)/(N − 1)
    (Hartlap et al. 2007); ``sellentin-heavens`` replaces the Gaussian by their t-distribution (2016);
    ``none`` uses it as it is.
    """
    check_choice(xi_space, XiSpace, "xi_space")
    check_choice(emulator_variance, EmulatorVariance, "emulator_variance")
    check_choice(covariance_correction, CovarianceCorrection, "covariance_correction")
    obs = observation.select(tuple(stats) if stats else observation.statistics)
    if r_range is not None:
        obs = obs.select_range(*r_range)
    absent = [s for s in obs.statistics if s not in emulator.statistics]
    if absent:
        raise InputError(
            f"--stats: {absent[0]}: the emulator {emulator.name} does not predict it "
            f"(it has {','.join(emulator.statistics)})"
        )
    space = parameter_space(emulator, fix=fix, bounds=bounds)
    mapping = bin_mapping(
        obs, np.asarray(emulator.r), emulator.r_edges, interpolate=interpolate, emulator_name=emulator.name
    )
    if mapping is not None and mapping.kind != "interpolate" and "xi" not in emulator.statistics:
        paired = [s for s in obs.statistics if s != "xi"]
        if paired:
            raise InputError(f"{obs.name}: /{paired[0]}: rebinning weights pairs by the emulator's ξ, which "
                             f"{emulator.name} does not predict")
    data, cov = obs.data_vector(), obs.cov
    if "xi" in obs.statistics and xi_space == "log":
        xi = obs.values["xi"]
        if np.any(xi <= 0):
            raise InputError(
                f"{obs.name}: /xi: log space needs positive ξ, {int(np.sum(xi <= 0))} bins are not "
                "(use --xi-space linear)"
            )
        scale = np.ones_like(data)
        scale[: xi.size] = xi  # xi comes first in the concatenation
        data = np.concatenate([np.log(xi), data[xi.size :]])
        cov = cov / np.outer(scale, scale)
    cov, jackknife_t, correction = _correct_covariance(cov, obs, covariance_correction)
    return IALikelihood(
        emulator, space, obs.statistics, obs.r, data, cov, mapping, xi_space, emulator_variance,
        jackknife_t, correction,
    )


def _correct_covariance(
    cov: np.ndarray, obs: Observation, kind: CovarianceCorrection
) -> tuple[np.ndarray, int | None, dict | None]:
    """(covariance, Sellentin-Heavens N or None, the record) for a jackknife data covariance
    (:func:`build_likelihood`); N > K + 2 holds for the whole observation, so for any part of it."""
    n, k = obs.jackknife, cov.shape[0]
    if n is None or kind == "none":
        return cov, None, None if n is None else {"kind": "none", "jackknife": n}
    if kind == "sellentin-heavens":
        return cov, n, {"kind": kind, "jackknife": n}
    factor = (n - k - 2) / (n - 1)
    return cov / factor, None, {"kind": kind, "jackknife": n, "factor": factor}
