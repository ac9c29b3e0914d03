"""Why the 7-parameter posteriors of single held-out realisations are too narrow: six measurements on the
held-out file, printed as one JSON line each (docs/ia_fit_calibration.md).

    python calibration/noise_diagnostics.py [--injections 20] [--emulator DIR --held-out FILE]

By default on the shipped emulator and its world's held-out file (``held_out_wide.h5``); the figures in
docs/ia_fit_calibration.md were measured on the emulator shipped before it and ``held_out_default.h5`` (that
document says how to get the emulator; calibration/README.md describes the file).

- ``chi2_at_truth``: the χ² per bin, χ²/K, of each usable realisation under the shipped emulator's
  covariance at its true parameters (noise correlation, ensemble variance and excess error E), against
  the χ²_K distribution a Gaussian with that covariance gives; and how much realisations of the same row
  share their amplitude (correlation of log χ²).
- ``support``: the fraction of held-out rows whose four realisations all give finite statistics, per
  fifth of each parameter's range. Rows that do not are dropped from training and validation alike, so the
  injections are drawn from the prior times that fraction, not from the uniform prior the fit assumes.
- ``freeze_point``: for the first ``--injections`` injections of the 200-injection run, the median over
  bins of log σ at the mode of the likelihood whose covariance follows θ (where the fit freezes it) minus
  log σ at the truth (σ: one realisation's total sd).
- ``emulator_bias``: the emulator's bias seen through the fit. Each row's mean over its realisations, minus
  the emulator at the row's truth, projected on the parameters at the truth as a linearised fit does,
  ``δθ = F⁻¹ Jᵀ Σ⁻¹ (x̄ − μ)`` (J the emulator's Jacobian, Σ one realisation's covariance, F = Jᵀ Σ⁻¹ J), in
  units of ``√(F⁻¹)ᵢᵢ``; its mean by fifth of each parameter's prior range. Noise averages out over rows.
- ``linear_forecast``: the same projection of each of the 200-injection run's realisations (seed 0), with
  the artifact's calibration (posterior variance κ (F⁻¹)ᵢᵢ + Dᵢ): the share of injections whose truth lies
  inside the linearised posterior's 68% and 95% intervals, per parameter. On the emulator shipped before,
  its finished run's NUTS 68% coverage trailed this forecast by 0.01 to 0.13 per parameter.
- ``laplace_forecast``: the fit's non-linear steps, cheaply (about 1.5 s per injection instead of NUTS's
  minutes), for the same 200-injection choice: per injection the mode of the likelihood whose covariance
  follows θ, found by local ascent from the truth (the fit searches the whole box), the covariance held there
  (times κ), Gauss-Newton to the held likelihood's mode, and its Laplace sd widened by D; the truth's place
  ``u`` in that Gaussian cut to the prior box, per parameter; coverage as the run counts it
  (docs/ia_fit_calibration.md has how it compares with NUTS).

``--only NAME`` runs one of them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import h5py
import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize as scipy_optimize
from scipy import stats as scipy_stats

from emulators.ia.default_emulator import default_emulator_path
from inference.ia.emulator_jax import load_jax_emulator
from inference.ia.held_out import HeldOut, read_held_out
from inference.ia.likelihood import IALikelihood
from inference.ia.mode_search import from_box, likelihood_mode_finder, logit_log_posterior, to_box
from inference.ia.observations import STATISTICS
from inference.ia.validation.report import LEVELS, inside
from inference.ia.validation.run import ValidationSettings, choose_injections, injection_likelihood

HELD_OUT = Path(__file__).parent / "held_out_wide.h5"  # the shipped emulator's world
RUN_INJECTIONS = 200  # calibration/run_default_validation.sh, seed 0


def run_choice(held: HeldOut) -> tuple[np.ndarray, np.ndarray]:
    """The 200-injection run's held-out rows and realisations (its choice, seed 0)."""
    return choose_injections(held, ValidationSettings(n_injections=RUN_INJECTIONS, seed=0))


def chi2_at_truth(like: IALikelihood, held: HeldOut) -> dict:
    """χ²/K of every realisation at its row's truth, its quantiles against χ²_K, and the shared amplitude."""
    mean, cov = jax.jit(jax.vmap(like.model_covariance))(jnp.asarray(held.params, jnp.float32))
    mean, cov = np.asarray(mean, float), np.asarray(cov, float)
    x = held.realisations.reshape(len(held.params), held.realisations.shape[1], -1)
    k = x.shape[2]
    chi2 = np.full(x.shape[:2], np.nan)
    for row in range(len(x)):
        try:
            chol = np.linalg.cholesky(cov[row])
        except np.linalg.LinAlgError:
            continue
        z = np.linalg.solve(chol, (x[row] - mean[row]).T)
        chi2[row] = np.sum(z**2, axis=0)
    rows = np.isfinite(chi2).all(axis=1)
    per_bin = chi2[rows] / k
    levels = [0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
    reference = scipy_stats.chi2(k)
    return {
        "what": "chi2_at_truth", "rows": int(rows.sum()), "bins": k,
        "quantiles": dict(zip(map(str, levels), np.quantile(per_bin, levels).round(3).tolist(), strict=True)),
        "chi2_K_quantiles": dict(zip(map(str, levels), (reference.ppf(levels) / k).round(3).tolist(),
                                     strict=True)),
        "mean": round(float(per_bin.mean()), 3),
        "sd_log": round(float(np.log(per_bin).std()), 3),
        "chi2_K_sd_log": round(float(np.log(reference.rvs(200_000, random_state=0) / k).std()), 3),
        "row_correlation_log": round(float(np.corrcoef(np.log(per_bin[:, :2]).T)[0, 1]), 3),
    }


def support(path: Path, names: tuple[str, ...]) -> dict:
    """Usable fraction of the file's rows per fifth of each parameter's range."""
    with h5py.File(path, "r") as f:
        params = f["params"][()]
        cube = np.stack([f[s][()] for s in STATISTICS], axis=2)
    usable = np.isfinite(cube).all(axis=(1, 2, 3))
    fifths = {}
    for i, name in enumerate(names):
        edges = np.linspace(params[:, i].min(), params[:, i].max(), 6)
        which = np.clip(np.digitize(params[:, i], edges[1:-1]), 0, 4)
        fifths[name] = [round(float(usable[which == b].mean()), 2) for b in range(5)]
    return {"what": "support", "rows": len(usable), "usable": int(usable.sum()), "usable_by_fifth": fifths}


def freeze_point(like: IALikelihood, held: HeldOut, n: int) -> dict:
    """Median log σ(mode) − log σ(truth) for the run's first ``n`` injections (same choice as the run)."""
    pick, real = run_choice(held)
    find = likelihood_mode_finder(like)
    covariance = jax.jit(like.emulator_covariance)
    zero = jnp.zeros((like.data.size, like.data.size), jnp.float32)
    shift = []
    for i in range(n):
        data = jnp.asarray(held.realisations[pick[i], real[i]].reshape(-1), jnp.float32)
        mode = find(data, zero, i)
        at_mode = np.diag(np.asarray(covariance(jnp.asarray(mode, jnp.float32))))
        at_truth = np.diag(np.asarray(covariance(jnp.asarray(held.params[pick[i]], jnp.float32))))
        shift.append(0.5 * np.median(np.log(at_mode / at_truth)))
    shift = np.asarray(shift)
    return {"what": "freeze_point", "injections": n,
            "median_log_sigma_shift": round(float(np.median(shift)), 3),
            "fraction_below_truth": round(float(np.mean(shift < 0)), 3),
            "range": [round(float(shift.min()), 3), round(float(shift.max()), 3)]}


def fisher_pulls(
    like: IALikelihood, params: np.ndarray, data: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Linearised fit of each data vector (N, D) at its truth (N, P): δθ and (F⁻¹)ᵢᵢ, each (N, P), with the
    covariance of one realisation at the truth (no calibration applied); NaN where that covariance is not
    finite."""
    def mean_and_model(theta: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        mean, cov = like.model_covariance(theta)
        return mean, (mean, cov)

    theta = jnp.asarray(params, jnp.float32)
    jac, (mu, cov) = jax.jit(jax.vmap(jax.jacfwd(mean_and_model, has_aux=True)))(theta)  # one evaluation
    mu, cov, jac = (np.asarray(a, float) for a in (mu, cov, jac))
    shift, variance = np.empty(params.shape), np.empty(params.shape)
    for i in range(len(params)):
        weighted = np.linalg.solve(cov[i], jac[i])  # Σ⁻¹ J
        inverse_fisher = np.linalg.inv(jac[i].T @ weighted)
        shift[i], variance[i] = inverse_fisher @ weighted.T @ (data[i] - mu[i]), np.diag(inverse_fisher)
    return shift, variance


def emulator_bias(like: IALikelihood, held: HeldOut) -> dict:
    """Mean Fisher-projected pull of the rows' mean realisation, by fifth of each parameter's prior range."""
    means = held.realisations.mean(axis=1).reshape(len(held.params), -1)
    shift, variance = fisher_pulls(like, held.params, means)
    pulls = shift / np.sqrt(variance)
    finite = np.isfinite(pulls).all(axis=1)
    pulls, params = pulls[finite], held.params[finite]
    where = (params - like.space.lo) / (like.space.hi - like.space.lo)
    fifth = np.clip((where * 5).astype(int), 0, 4)
    by_fifth = {name: [round(float(pulls[fifth[:, i] == b, i].mean()), 2) for b in range(5)]
                for i, name in enumerate(like.space.names)}
    return {"what": "emulator_bias", "rows": len(pulls), "mean": dict(zip(like.space.names,
            pulls.mean(axis=0).round(2).tolist(), strict=True)), "by_fifth": by_fifth}  # fmt: skip


def linear_forecast(like: IALikelihood, held: HeldOut) -> dict:
    """Coverage of the 200-injection run's realisations by the linearised posterior at their truths, with the
    calibration: variance κ (F⁻¹)ᵢᵢ + Dᵢ (the shift of the draws by D adds to the variance)."""
    pick, real = run_choice(held)
    data = held.realisations[pick, real].reshape(len(pick), -1)
    shift, variance = fisher_pulls(like, held.params[pick], data)
    extra = 0.0 if like.parameter_variance is None else np.asarray(like.parameter_variance, float)
    scaled = np.abs(shift) / np.sqrt(like.covariance_scale * variance + extra)
    scaled = scaled[np.isfinite(scaled).all(axis=1)]
    cover = {f"{level:g}": dict(zip(like.space.names, np.mean(scaled <= scipy_stats.norm.ppf(0.5 + level / 2),
                                                               axis=0).round(3).tolist(), strict=True))
             for level in LEVELS}  # fmt: skip
    return {"what": "linear_forecast", "injections": len(scaled), "kappa": like.covariance_scale,
            "coverage": cover}


def laplace_fitter(like: IALikelihood, steps: int = 8) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``u(truth, data)``: the truth's place (P,) in the Laplace approximation of one fit of ``data`` (D,),
    all parameters free. The local mode from ``truth`` of the likelihood whose covariance follows θ (uniform
    prior, in the fit's logit coordinates), the held covariance there (κ included), ``steps`` damped
    Gauss-Newton steps to the held likelihood's mode, and per parameter the Gaussian of its Laplace variance
    plus the calibration's D, cut to the prior box. Compiled once per likelihood."""
    lo, hi = np.asarray(like.space.lo, float), np.asarray(like.space.hi, float)
    box = jnp.asarray(lo, jnp.float32), jnp.asarray(hi, jnp.float32)
    margin = 1e-6 * (hi - lo)
    log_posterior = logit_log_posterior(like.log_likelihood, *box)

    def mean(theta: jax.Array) -> jax.Array:
        return like.model_covariance(theta)[0]

    value_grad = jax.jit(jax.value_and_grad(
        lambda v, x: -log_posterior(v, x, jnp.zeros((x.size, x.size), x.dtype))))
    mean_jac = jax.jit(lambda theta: (mean(theta), jax.jacfwd(mean)(theta)))
    held = jax.jit(like.held_covariance)
    extra = 0.0 if like.parameter_variance is None else np.asarray(like.parameter_variance, float)

    def u(truth: np.ndarray, data: np.ndarray) -> np.ndarray:
        x = jnp.asarray(data, jnp.float32)
        found = scipy_optimize.minimize(
            lambda v: tuple(np.asarray(a, float) for a in value_grad(jnp.asarray(v, jnp.float32), x)),
            np.asarray(from_box(jnp.asarray(truth, jnp.float32), *box), float), jac=True, method="L-BFGS-B")
        theta = np.asarray(to_box(jnp.asarray(found.x, jnp.float32), *box), float)
        inverse_cov = np.linalg.inv(np.asarray(held(jnp.asarray(theta, jnp.float32)), float))

        def fisher_at(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # F and Jᵀ C⁻¹ (d − μ)
            model, jac = (np.asarray(a, float) for a in mean_jac(jnp.asarray(theta, jnp.float32)))
            weighted = inverse_cov @ jac
            return jac.T @ weighted, weighted.T @ (data - model)

        for _ in range(steps):
            fisher, score = fisher_at(theta)
            theta = np.clip(theta + 0.7 * np.linalg.solve(fisher, score), lo + margin, hi - margin)
        sd = np.sqrt(np.diag(np.linalg.inv(fisher_at(theta)[0])) + extra)
        below, above = scipy_stats.norm.cdf((lo - theta) / sd), scipy_stats.norm.cdf((hi - theta) / sd)
        return (scipy_stats.norm.cdf((truth - theta) / sd) - below) / np.maximum(above - below, 1e-12)

    return u


def laplace_forecast(like: IALikelihood, held: HeldOut) -> dict:
    """Coverage of the 200-injection run's realisations by :func:`laplace_fitter`: per parameter, pooled."""
    pick, real = run_choice(held)
    fit = laplace_fitter(like)
    u = np.array([fit(held.params[row], held.realisations[row, one].reshape(-1))
                  for row, one in zip(pick, real, strict=True)])
    u = u[np.isfinite(u).all(axis=1)]
    covered = {level: inside(u, level) for level in LEVELS}
    return {"what": "laplace_forecast", "injections": len(u), "kappa": like.covariance_scale,
            "coverage": {f"{level:g}": dict(zip(like.space.names, a.mean(axis=0).round(3).tolist(),
                                                strict=True)) for level, a in covered.items()},
            "pooled": {f"{level:g}": round(float(a.mean()), 3) for level, a in covered.items()}}


MEASUREMENTS = ("chi2_at_truth", "support", "freeze_point", "emulator_bias", "linear_forecast",
                "laplace_forecast")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--injections", type=int, default=20)
    ap.add_argument("--emulator", type=Path, default=default_emulator_path(), help="emulator artifact folder")
    ap.add_argument("--held-out", type=Path, default=HELD_OUT, help="its world's held-out mocks")
    ap.add_argument("--only", choices=MEASUREMENTS, help="run this measurement alone")
    args = ap.parse_args()
    emulator = load_jax_emulator(args.emulator, n_realisations=1)
    held = read_held_out(args.held_out, emulator)
    like = injection_likelihood(emulator, held, STATISTICS, ValidationSettings().emulator_variance)
    measure = {
        "chi2_at_truth": lambda: chi2_at_truth(like, held),
        "support": lambda: support(args.held_out, tuple(emulator.param_names)),
        "freeze_point": lambda: freeze_point(like, held, args.injections),
        "emulator_bias": lambda: emulator_bias(like, held),
        "linear_forecast": lambda: linear_forecast(like, held),
        "laplace_forecast": lambda: laplace_forecast(like, held),
    }
    for name in [args.only] if args.only else MEASUREMENTS:
        print(json.dumps(measure[name]()), flush=True)


if __name__ == "__main__":
    main()
