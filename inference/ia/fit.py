"""Fit an observation with the IA emulator (docs/ARCHITECTURE.md 4.4): what ``iaemu fit`` runs, as a library.

Usage::

    summary = fit_observation("emu/", "data.h5", "fit/", FitSettings(fix={"logMmin": 12.5}, sampler="nuts"))

or, with any emulator (the JAX port, an analytic stand-in) and observation already in memory::

    settings = FitSettings(chains=4, warmup=500, samples=1000, seed=0)
    like = build_likelihood(emulator, observation, stats=("xi", "omega"), fix={"logMmin": 12.5})
    result = sample_posterior(like, settings)              # SamplerResult: draws, diagnostics, timings
    summary = write_fit(like, result, "fit/", settings)

The fit directory holds posterior.nc, summary.json, corner.png and ppc.png (docs/ARCHITECTURE.md 3.5).
Parameters are in physical units (masses log10 Msun/h); r in comoving Mpc/h.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import jax.numpy as jnp
import numpy as np

from common.errors import check_choice, check_number, check_seed
from common.outputs import check_output, holds
from inference.ia.likelihood import (
    DEFAULT_EMULATOR_COVARIANCE,
    DEFAULT_VARIANCE,
    CovarianceCorrection,
    EmulatorCovariance,
    EmulatorVariance,
    IALikelihood,
    XiSpace,
    build_likelihood,
)
from inference.ia.observations import check_stats
from inference.ia.posterior_calibration import calibrated_draws
from inference.ia.settings import IANutsSettings
from inference.sampling.emcee_sampler import run_emcee
from inference.sampling.nuts import SamplerResult, run_nuts

Sampler = Literal["nuts", "emcee"]
Start = Literal["mode", "prior"]  # chains start at a multi-start mode search's best point, or at random


@dataclass
class FitSettings(IANutsSettings):
    """How to fit: the likelihood's choices, the prior, the sampler and its budget (the NUTS fields it
    inherits, per chain; emcee runs ``walkers`` walkers for ``warmup`` burn-in steps then ``samples``
    steps)."""

    stats: tuple[str, ...] | None = None  # default: every statistic the observation has
    xi_space: XiSpace = "linear"
    emulator_variance: EmulatorVariance = DEFAULT_VARIANCE
    fix: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    interpolate: bool = False
    r_range: tuple[float, float] | None = None  # Mpc/h: fit only the observation's bins inside it
    covariance_correction: CovarianceCorrection = "hartlap"  # for a jackknife data covariance
    sampler: Sampler = "nuts"
    walkers: int = 32
    start: Start = "mode"  # "mode": chains start at the best point of a multi-start search; "prior": random
    # "fixed": the emulator covariance held at the mode; "varying": it follows the parameters
    emulator_covariance: EmulatorCovariance = DEFAULT_EMULATOR_COVARIANCE
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self.xi_space, XiSpace, "xi_space")
        check_choice(self.emulator_variance, EmulatorVariance, "emulator_variance")
        check_choice(self.emulator_covariance, EmulatorCovariance, "emulator_covariance")
        check_choice(self.sampler, Sampler, "sampler")
        check_choice(self.start, Start, "start")
        check_choice(self.covariance_correction, CovarianceCorrection, "covariance_correction")
        check_number(self.walkers, "walkers", 2, integer=True)
        check_seed(self.seed)
        if self.stats is not None:
            check_stats(self.stats, "stats")


def start_point(like: IALikelihood, settings: FitSettings) -> dict[str, float] | None:
    """Where the chains start: the mode found by :func:`inference.ia.mode_search.likelihood_mode`
    (``start="mode"``) or None (``"prior"``: NUTS draws each chain's start; emcee starts at the centre)."""
    return None if settings.start == "prior" else _mode(like, settings.seed)


def _mode(like: IALikelihood, seed: int) -> dict[str, float]:
    from inference.ia.mode_search import likelihood_mode

    mode = likelihood_mode(like, *like.model_args, seed=seed)
    return {name: float(v) for name, v in zip(like.space.free, mode, strict=True)}


def sample_posterior(like: IALikelihood, settings: FitSettings, *, quiet: bool = False) -> SamplerResult:
    """Run NUTS (numpyro) or emcee on the likelihood's numpyro model; draws of the free parameters.

    With ``emulator_covariance="fixed"`` the emulator covariance is held at the mode
    (:meth:`IALikelihood.frozen_at`) while the model mean follows the parameters. When the emulator's
    calibration has a variance D per parameter, the draws are shifted by it
    (:func:`inference.ia.posterior_calibration.calibrated_draws`; the sampler's statistics follow the draws,
    and its own draws stay in ``sampler_samples`` for the goodness of fit, :mod:`inference.ia.goodness`).
    """
    result = _sample(like, settings, quiet)
    draws = np.stack([np.asarray(result.samples[n], float) for n in like.space.free], axis=-1)
    shifted = calibrated_draws(like, draws, np.random.default_rng(settings.seed))
    if shifted is None:
        return result
    moved, index = shifted
    samples = {n: moved[..., i] for i, n in enumerate(like.space.free)}
    stats = {k: np.take_along_axis(np.asarray(v), index, axis=1) for k, v in result.sample_stats.items()}
    return replace(result, samples=samples, sample_stats=stats, sampler_samples=result.samples)


def _sample(like: IALikelihood, settings: FitSettings, quiet: bool) -> SamplerResult:
    start = start_point(like, settings)
    if settings.emulator_covariance == "fixed":
        mode = start or _mode(like, settings.seed)
        like = like.frozen_at(like.space.full(jnp.asarray([mode[n] for n in like.space.free])))
    if settings.sampler == "nuts":
        return run_nuts(like.numpyro_model, model_args=like.model_args, init=start, seed=settings.seed,
                        quiet=quiet, **settings.budget())
    centre = {
        n: float(0.5 * (like.space.lo[i] + like.space.hi[i]))
        for n, i in zip(like.space.free, like.space.free_index, strict=True)
    }
    return run_emcee(
        like.numpyro_model,
        model_args=like.model_args,
        init=start or centre,
        walkers=settings.walkers,
        steps=settings.warmup + settings.samples,
        burn=settings.warmup,
        init_scale=0.1,
        seed=settings.seed,
        quiet=quiet,
    )


def write_fit(
    like: IALikelihood,
    result: SamplerResult,
    out: str | Path,
    settings: FitSettings,
    observation_attrs: dict[str, str] | None = None,
    observation_hash: str = "",
) -> dict:
    """Write posterior.nc, summary.json, corner.png, ppc.png into ``out`` atomically; return the summary
    (with its goodness of fit, :mod:`inference.ia.goodness`)."""
    from inference.ia.fit_plots import ppc_writer
    from inference.ia.goodness import goodness_of_fit, posterior_model
    from inference.sampling.outputs import write_fit_directory

    model = posterior_model(like, result)  # shared by the goodness of fit and ppc.png
    extra = {
        "fixed": like.space.fixed,
        "prior": {
            n: [float(like.space.lo[i]), float(like.space.hi[i])]
            for n, i in zip(like.space.free, like.space.free_index, strict=True)
        },
        "likelihood": {
            "statistics": list(like.stats),
            "xi_space": like.xi_space,
            "emulator_variance": like.emulator_variance,
            "interpolated": like.mapping is not None and like.mapping.kind == "interpolate",
            "bins": "the emulator's" if like.mapping is None else like.mapping.describe(),
            "r": [float(r) for r in like.r],
            "covariance_correction": like.correction,
        },
        "goodness_of_fit": goodness_of_fit(like, result, seed=settings.seed, model=model),
        "emulator": like.emulator.name,
        "observation": dict(observation_attrs or {}),
        "fit_settings": {k: v for k, v in asdict(settings).items() if k not in ("fix", "bounds")},
    }
    return write_fit_directory(
        out,
        result,
        seed=settings.seed,
        data_hash=observation_hash,
        model_hash=like.emulator.digest(),
        var_names=list(like.space.free),
        plots={"ppc.png": ppc_writer(like, model)},
        extra=extra,
    )


def fit_observation(
    emulator_dir: str | Path,
    observation_path: str | Path,
    out: str | Path,
    settings: FitSettings | None = None,
    *,
    quiet: bool = False,
) -> dict:
    """Load the emulator artifact and the observation, sample, write ``out``; return the summary.

    Every check (statistics, bins, covariance, fixed values, prior) runs before sampling, and nothing is
    written unless the whole fit succeeds.
    """
    from inference.ia.emulator_jax import load_jax_emulator
    from inference.ia.observations import read_observation

    settings = settings or FitSettings()
    check_output(out, "dir", inputs=(emulator_dir, observation_path), own=holds("summary.json"))
    emulator = load_jax_emulator(emulator_dir)
    observation = read_observation(observation_path)
    like = build_likelihood(
        emulator,
        observation,
        stats=settings.stats,
        xi_space=settings.xi_space,
        emulator_variance=settings.emulator_variance,
        fix=settings.fix,
        bounds=settings.bounds,
        interpolate=settings.interpolate,
        r_range=settings.r_range,
        covariance_correction=settings.covariance_correction,
    )
    result = sample_posterior(like, settings, quiet=quiet)
    return write_fit(like, result, out, settings, observation.attrs, observation.digest())


def report(summary: dict) -> str:
    """The short table printed by ``iaemu fit`` (mean, sd, 68% interval, R-hat, ESS), the fixed values, how
    the bins were mapped and the goodness of fit."""
    from inference.ia.goodness import describe
    from inference.sampling.outputs import format_table

    fixed = summary.get("fixed") or {}
    lines = [format_table(summary)]
    if fixed:
        lines.append("fixed: " + ", ".join(f"{k}={v:g}" for k, v in fixed.items()))
    bins = summary.get("likelihood", {}).get("bins")
    if bins and bins != "the emulator's":
        lines.append(f"bins: {bins}")
    if "goodness_of_fit" in summary:
        lines.append(describe(summary["goodness_of_fit"]))
    return "\n".join(lines)
