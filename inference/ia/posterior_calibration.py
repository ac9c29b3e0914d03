"""Posterior calibration of the fixed-form IA likelihood: a factor κ on the held emulator covariance and a
variance D per parameter, measured by injection/recovery on independent mocks (never trained on, and not
the held-out test file).

Usage::

    iaemu validate emu/ error_mocks.h5 --n-injections 32 --seed 1 --out cal1/   # fits of the artifact
    iaemu validate emu/ error_mocks.h5 --n-injections 64 --seed 2 --out cal2/   # more, other injections
    iaemu calibrate-scale emu/ cal1/ cal2/                                     # κ and D into emu/

or ``entry = add_covariance_scale("emu/", ["cal1/", "cal2/"])``. The fit then holds ``κ Σ_emu(θ̂)``
(:meth:`inference.ia.likelihood.IALikelihood.held_covariance`), and each of its posterior draws is shifted by
a Gaussian of variance D (:func:`shifted_draws`).

Why: the posteriors of single held-out realisations were too narrow, with the truth outside the central
68% interval for 35–45% of injections per parameter (docs/ia_fit_calibration.md), while the
likelihood at the truth is calibrated bin by bin. The misses come from the non-linear fit, which no
per-bin measurement sees, and on the shipped emulator they differ between parameters: at the κ that made
the pooled coverage nominal, log Mmin covered 0.84 and log M1 0.59. D models the emulator's error as a
Gaussian shift of the parameters: the data follow the emulator at θ + δ, δ ~ N(0, D), so the posterior of θ
is the fit's posterior convolved with N(0, D) and cut to the prior box, whatever its shape, which widens
one parameter without the others. (Held as ``J D Jᵀ`` in the covariance, the same shift widens a linear
model's posterior alike, but NUTS along the HOD ridge and against the box widened σ_logM not at all and
log M1 by a third of that: docs/ia_fit_calibration.md.)

Estimator (:func:`calibration_from`): each injection's fit, of posterior sd ``s`` with a fraction ``u`` of
its draws below the truth, stands for the Gaussian whose cut to the prior box has that sd and that
fraction (:func:`cut_parent`). Under (κ, D_i) its width grows by √(κ / κ_run) (κ_run: the κ the injection
was fitted with), and it is shifted by N(0, D_i) and cut to the box again, as the shifted draws are; its
fraction below the truth is :func:`box_fraction_below`. Per parameter, κ_i is the smallest factor that
alone makes the 68% quantile of |Φ⁻¹(that fraction)| over the injections equal Φ⁻¹(0.84) (central-68%
coverage nominal). κ is the smallest κ_i, and D_i ≥ 0 the smallest variance that does the same for every
other parameter: none is widened more than it needs. Where no D does (a parameter the data hardly
constrain, whose posterior is nearly its prior, covers as its truths sit in the box), D_i is the one that
brings its coverage nearest nominal. The cut matters: a posterior as wide as its box cannot
widen by D, and on the shipped emulator an estimator without it left σ_logM and log M1 covering 0.09 and
0.18 below what it assumed (docs/ia_fit_calibration.md). The smallest of P noisy factors comes out
low when the injections are few (D then carries more of the widening). In a fit with some parameters
fixed, only the free ones are shifted.

The validations may have been fitted with any calibration this artifact has carried without a D (found by
the emulator digest their coverage.json records, against the artifact with each calibration of its
history: none, and each entry kept under ``previous``), so fits made before a calibration count with the
ones made after it.
"""

from __future__ import annotations

import copy
import csv
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm, truncnorm

from common.atomic import atomic_file
from common.errors import InputError
from emulators.artifact_files import EMULATOR_JSON
from inference.ia.validation.report import LEVELS, inside

if TYPE_CHECKING:
    from inference.ia.emulator_jax import JaxEmulator
    from inference.ia.likelihood import IALikelihood

LEVEL = 0.68  # the central interval whose coverage the calibration makes nominal
ESTIMATOR = ("per injection and parameter, the Gaussian whose cut to the prior box has the fit's sd and "
             "fraction u below the truth; its width times sqrt(kappa / kappa fitted with), shifted by "
             "N(0, D_i) and cut again; kappa = min over parameters of the smallest kappa that makes the 68% "
             "quantile of |Phi^-1(its fraction below the truth)| equal Phi^-1(0.84); D_i >= 0 the smallest "
             "variance that does so at kappa (else the one nearest it)")
_KAPPA_GRID = np.geomspace(1e-2, 1e2, 81)  # factors searched for the smallest root, then refined
_D_GRID = np.r_[0.0, np.geomspace(1e-6, 4.0, 81)]  # variances searched, in units of a scale per parameter
_NODES = (np.arange(48) + 0.5) / 48  # equal-mass quantiles standing in for a cut Gaussian


def _bisect(excess: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray,
            steps: int = 45) -> np.ndarray:
    """Elementwise x in [lo, hi] where ``excess`` (decreasing in x) crosses 0, by bisection (an end of the
    bracket where it does not cross)."""
    lo, hi = (np.array(end, float) for end in np.broadcast_arrays(lo, hi))
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        above = excess(mid) > 0
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return 0.5 * (lo + hi)


def cut_parent(
    truth: np.ndarray, u: np.ndarray, sd: np.ndarray, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray]:
    """Centres and widths (K,) of the Gaussians whose cut to [``lo``, ``hi``] has sd ``sd`` and the fraction
    ``u`` below ``truth`` (K,), by bisection: the posterior a fit cut to its prior box stands for. In a
    box with an infinite side, taken as unbounded: width ``sd`` and centre ``truth - Φ⁻¹(u) sd``."""
    width = hi - lo
    if not np.isfinite(width):
        return truth - norm.ppf(u) * sd, np.asarray(sd, float)

    def centre(sigma: np.ndarray) -> np.ndarray:
        def below(mu: np.ndarray) -> np.ndarray:  # decreasing in the centre
            return truncnorm.cdf((truth - mu) / sigma, (lo - mu) / sigma, (hi - mu) / sigma) - u

        return _bisect(below, lo - 4 * width, hi + 4 * width)

    def narrower(log_sigma: np.ndarray) -> np.ndarray:  # sd of the cut Gaussian grows with its width
        sigma = np.exp(log_sigma)
        mu = centre(sigma)
        return sd - truncnorm.std((lo - mu) / sigma, (hi - mu) / sigma, loc=mu, scale=sigma)

    sigma = np.exp(_bisect(narrower, np.log(sd / 2), np.log(10 * width), steps=40))
    return centre(sigma), sigma


def box_fraction_below(
    truth: np.ndarray, centre: np.ndarray, sigma: np.ndarray, lo: float, hi: float, extra: float
) -> np.ndarray:
    """P(θ < truth) (K,) for θ drawn from N(centre, sigma²) cut to [lo, hi], shifted by N(0, extra) and cut
    to the box again (the shifted draws of a fit), clipped to [1e-12, 1 - 1e-12]; the second cut by 48
    equal-mass nodes of the first."""
    a, b = (lo - centre) / sigma, (hi - centre) / sigma
    if extra <= 0:
        fraction = truncnorm.cdf((truth - centre) / sigma, a, b)
    else:
        start, mass = norm.cdf(a)[:, None], (norm.cdf(b) - norm.cdf(a))[:, None]
        nodes = centre[:, None] + sigma[:, None] * norm.ppf(np.clip(start + _NODES * mass, 1e-15, 1 - 1e-15))
        nodes = np.clip(nodes, lo, hi)
        spread = np.sqrt(extra)
        in_box = norm.cdf((hi - nodes) / spread) - norm.cdf((lo - nodes) / spread)
        below = norm.cdf((truth[:, None] - nodes) / spread) - norm.cdf((lo - nodes) / spread)
        fraction = below.sum(axis=1) / in_box.sum(axis=1)
    return np.clip(fraction, 1e-12, 1 - 1e-12)


def _smallest_root(f: Callable[[float], float], grid: np.ndarray) -> float | None:
    """The smallest x in the grid's span where f crosses from above 0 to at most 0 (refined by brentq);
    None when it never does."""
    values = np.array([f(x) for x in grid])
    crossings = np.flatnonzero((values[:-1] > 0) & (values[1:] <= 0))
    if crossings.size == 0:
        return None
    k = crossings[0]
    return float(brentq(f, grid[k], grid[k + 1]))


def calibration_from(
    truth: np.ndarray,
    u: np.ndarray,
    sd: np.ndarray,
    fitted_with: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    level: float = LEVEL,
) -> tuple[float, np.ndarray, np.ndarray]:
    """κ and D (P,) from the truths ``truth``, the posterior fractions below them ``u`` and the posterior
    sds ``sd`` (K, P) of fits made with the factors ``fitted_with`` (K,) in the prior box [``lo``, ``hi``]
    (P,), in the parameters' units (squared for D), and the coverage (P, 2) of the central 68% and 95%
    intervals that they give these fits, as the estimator's model of each fit (not a refit) has it; see
    the module."""
    target = norm.ppf(0.5 + level / 2)
    u = np.clip(u, 1e-6, 1 - 1e-6)
    parents = [cut_parent(truth[:, i], u[:, i], sd[:, i], lo[i], hi[i]) for i in range(truth.shape[1])]
    run = np.asarray(fitted_with, float)

    def fraction(i: int, kappa: float, d: float) -> np.ndarray:
        centre, sigma = parents[i]
        return box_fraction_below(truth[:, i], centre, sigma * np.sqrt(kappa / run), lo[i], hi[i], d)

    def excess(i: int, kappa: float, d: float) -> float:
        return float(np.quantile(np.abs(norm.ppf(fraction(i, kappa, d))), level)) - target

    alone = np.array([_smallest_root(lambda k, i=i: excess(i, k, 0.0), _KAPPA_GRID) or np.inf
                      for i in range(truth.shape[1])])
    if not np.isfinite(alone).any():
        raise InputError("no factor κ up to 100 makes the coverage of any parameter nominal; expected "
                         "validations whose fits scatter about their truths")
    kappa = float(alone.min())
    extra = np.zeros(truth.shape[1])
    for i in np.flatnonzero(alone > kappa):
        # up to 4 × the box width², or × (the widest parent's range over the target)²
        error = np.abs(truth[:, i] - parents[i][0]) + parents[i][1]
        grid = _D_GRID * min(float(hi[i] - lo[i]) ** 2, float(error.max() / target) ** 2)
        root = _smallest_root(lambda d, i=i: excess(i, kappa, d), grid)
        extra[i] = root if root is not None else grid[np.argmin([abs(excess(i, kappa, d)) for d in grid])]
    coverage = np.array([[inside(fraction(i, kappa, extra[i]), a).mean() for a in LEVELS]
                         for i in range(truth.shape[1])])
    return kappa, extra, coverage


def shifted_draws(
    draws: np.ndarray, extra: np.ndarray, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior draws (C, N, F) of C chains shifted by δ ~ N(0, diag ``extra``) (F,), the draws that leave
    the prior box [``lo``, ``hi``] rejected (exact for the box prior) and each chain filled up again to N
    by drawing among its accepted draws, in order; returns them and, per chain, the index (C, N) of the
    draw each came from (for the sampler's statistics). A chain with no draw left in the box: InputError."""
    moved = draws + rng.standard_normal(draws.shape) * np.sqrt(np.asarray(extra, float))
    in_box = np.all((moved >= lo) & (moved <= hi), axis=-1)
    index = np.empty(in_box.shape, int)
    for c, kept in enumerate(in_box):
        accepted = np.flatnonzero(kept)
        if accepted.size == 0:
            raise InputError(f"every draw of chain {c} leaves the prior box once shifted by D; expected a D "
                             "smaller than the box")
        index[c] = np.sort(rng.choice(accepted, size=kept.size, replace=accepted.size < kept.size))
    return np.take_along_axis(moved, index[..., None], axis=1), index


def calibrated_draws(
    like: IALikelihood, draws: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`shifted_draws` of the draws (C, N, F) of ``like``'s free parameters by its calibration's D, in
    its prior box; None when it has no D."""
    extra = like.parameter_variance
    if extra is None:
        return None
    free = like.space.free_index
    return shifted_draws(draws, extra[free], like.space.lo[free], like.space.hi[free], rng)


def read_validation(
    validation: str | os.PathLike[str],
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, dict]:
    """The parameter names, the ``*_truth``, ``*_u`` and ``*_sd`` columns (K, F) of ``injections.csv`` and
    the ``run`` block of ``coverage.json`` of an ``iaemu validate`` output directory."""
    folder = Path(validation)
    table, report = folder / "injections.csv", folder / "coverage.json"
    for path in (report, table):
        if not path.is_file():
            raise InputError(f"{path}: missing (expected an `iaemu validate` output directory)")
    run = _run_block(report)
    names, truth, u, sd = _posterior_table(table)
    return names, truth, u, sd, run


def _run_block(report: Path) -> dict:
    """The ``run`` object of coverage.json; InputError for a torn or foreign file."""
    try:
        doc = json.loads(report.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{report}: not valid JSON (truncated? {err})") from None
    run = doc.get("run") if isinstance(doc, dict) else None
    if not isinstance(run, dict):
        raise InputError(f"{report}: run: missing; expected the object `iaemu validate` writes")
    return run


def _posterior_table(table: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Names and the ``NAME_truth`` (finite), ``NAME_u`` (in [0, 1]) and ``NAME_sd`` (> 0) columns (K, F)
    of injections.csv; InputError naming the row or the column."""
    try:
        with open(table, newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{table}: not a readable CSV table ({err})") from None
    header = rows[0] if rows else []
    names = [name[:-2] for name in header if name.endswith("_u")]
    if not names or len(rows) < 2:
        raise InputError(f"{table}: no injections with u columns")
    missing = [f"{n}_{kind}" for kind in ("truth", "sd") for n in names if f"{n}_{kind}" not in header]
    if missing:
        raise InputError(f"{table}: columns {', '.join(missing)} missing; expected NAME_truth, NAME_u and "
                         "NAME_sd per parameter, as `iaemu validate` writes them")
    columns = [header.index(f"{n}_{kind}") for kind in ("truth", "u", "sd") for n in names]
    values = np.full((len(rows) - 1, len(columns)), np.nan)
    for i, row in enumerate(rows[1:]):
        try:
            values[i] = [float(row[j]) for j in columns]
        except (IndexError, ValueError):
            pass
        truth, u, sd = np.split(values[i], 3)
        if not (np.all(np.isfinite(truth)) and np.all((u >= 0) & (u <= 1)) and np.all(sd > 0)):
            raise InputError(f"{table}: row {i + 2}: expected a finite truth, u in [0, 1] and sd > 0 for "
                             f"every parameter ({', '.join(names)}); truncated?")
    truth, u, sd = np.split(values, 3, axis=1)
    return names, truth, u, sd


def _calibrations(entry: dict) -> list[dict | None]:
    """Every calibration an emulator-error entry has carried: none, then each step kept under ``previous``,
    up to the current one."""
    chain, scale = [], entry.get("covariance_scale")
    while scale:
        chain.insert(0, scale)
        scale = scale.get("previous")
    return [None, *chain]


def _fitted_scale(run: dict, emulator: JaxEmulator, validation: os.PathLike[str] | str) -> float:
    """The κ that a validation's fits were run with: that of the calibration of the artifact's history whose
    digest its coverage.json records; InputError when none matches, or when that calibration had a D."""
    entry = emulator.doc["emulator_error"]
    for scale in _calibrations(entry):
        state = copy.deepcopy(entry)
        state.pop("covariance_scale", None)
        if scale is not None:
            state["covariance_scale"] = scale
        if run.get("emulator_digest") == emulator.digest(state):
            if scale is not None and any((scale.get("parameter_variance") or {}).values()):
                raise InputError(f"{validation}: fitted with a parameter variance D; expected fits made with "
                                 "κ alone (or uncalibrated)")
            return 1.0 if scale is None else float(scale["value"])
    raise InputError(
        f"{validation}: coverage.json: run.emulator_digest {run.get('emulator_digest')} is not the digest of "
        f"this artifact with any calibration it has carried; expected a validation of it"
    )


def add_covariance_scale(
    artifact: str | os.PathLike[str], validations: Sequence[str | os.PathLike[str]]
) -> dict:
    """Measure κ and D on the validation directories ``validations`` (each run with ``artifact`` under one
    of the calibrations it has carried, on independent mocks) and write them into the artifact's
    emulator-error entry, the calibration before it kept under ``previous``; return the new calibration."""
    from inference.ia.emulator_jax import load_jax_emulator

    emulator = load_jax_emulator(artifact)
    doc = emulator.doc  # the artifact's emulator.json, as loaded
    entry = doc.get("emulator_error")
    if not entry:
        raise InputError(f"{artifact}: no emulator_error entry (run `iaemu calibrate-error` first)")
    training = (doc.get("training") or {}).get("data", {}).get("sha256")
    truths, fractions, sds, fitted, runs = [], [], [], [], []
    for validation in validations:
        names, truth, u, sd, run = read_validation(validation)
        if names != list(emulator.param_names):
            raise InputError(f"{validation}: injections.csv: parameters {', '.join(names)}; expected all of "
                             f"the emulator's, {', '.join(emulator.param_names)}")
        if run.get("held_out_sha256") == training:
            raise InputError(f"{validation}: the injections are rows of the training file; expected "
                             "independent mocks")
        scale = _fitted_scale(run, emulator, validation)
        truths.append(truth)
        fractions.append(u)
        sds.append(sd)
        fitted.append(np.full(len(u), scale))
        runs.append({"emulator_digest": run.get("emulator_digest"),
                     "mocks_sha256": run.get("held_out_sha256"),
                     "injections": int(u.shape[0]), "fitted_with_scale": scale})
    kappa, extra, coverage = calibration_from(np.vstack(truths), np.vstack(fractions), np.vstack(sds),
                                              np.concatenate(fitted), emulator.prior_lo, emulator.prior_hi)
    before = entry.get("covariance_scale")
    entry["covariance_scale"] = {
        "value": round(kappa, 4),
        "parameter_variance": dict(zip(emulator.param_names, (float(f"{d:.4g}") for d in extra),
                                       strict=True)),
        "coverage_68_95": {name: [round(float(c), 3) for c in row]  # of these fits, under this κ and D
                           for name, row in zip(emulator.param_names, coverage, strict=True)},
        "injections": [r["injections"] for r in runs],
        "parameters": len(emulator.param_names),
        "validations": runs,
        "estimator": ESTIMATOR,
    } | ({"previous": before} if before else {})
    with atomic_file(Path(artifact) / EMULATOR_JSON) as tmp:
        tmp.write_text(json.dumps(doc, indent=1))
    return entry["covariance_scale"]


def coverage_text(coverage: dict[str, list[float]]) -> str:
    """A calibration's stored ``coverage_68_95`` as one line: ``name c68/c95`` per parameter."""
    return ", ".join(f"{name} {c68:.3f}/{c95:.3f}" for name, (c68, c95) in coverage.items())


def scale_steps(scale: dict) -> list[int]:
    """The injections behind an emulator-error entry's ``covariance_scale``: per validation it was measured
    on, or (an entry measured in steps, each on one validation) per step, first step first."""
    if isinstance(scale["injections"], list):
        return [int(n) for n in scale["injections"]]
    return ([] if "previous" not in scale else scale_steps(scale["previous"])) + [int(scale["injections"])]
