"""Convergence and efficiency diagnostics of a :class:`~inference.sampling.nuts.SamplerResult` (ArviZ).

    to_inference_data(result) -> arviz.InferenceData         posterior + sample_stats, one chain per chain
    parameter_summary(result, var_names=None) -> {name: {mean, sd, q2.5, q16, q50, q84, q97.5,
                                                         r_hat, ess_bulk, ess_tail}}
    run_diagnostics(result, var_names=None) -> {divergences, max_r_hat, min_ess_bulk, min_ess_tail,
                                                ess_per_s, ess_per_gradient, ess_per_evaluation, ...}

Vector-valued parameters are reported element by element as `name[i]` (`name[i,j]` for matrices).
R-hat is the rank-normalised split R-hat, ESS the bulk and tail ESS of Vehtari et al. (2021). ESS/s uses
the sampling wall time without compilation; ESS per gradient counts every gradient, warm-up included.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

with warnings.catch_warnings():  # ArviZ >= 0.22 warns on stderr on its first import each day (a refactor
    warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")  # to come): not our users' news
    import arviz as az

from inference.sampling.nuts import SamplerResult

QUANTILES = (2.5, 16.0, 50.0, 84.0, 97.5)


def to_inference_data(result: SamplerResult) -> az.InferenceData:
    """The draws of a single-dataset result as ArviZ InferenceData (groups posterior and sample_stats)."""
    if result.batch is not None:
        raise ValueError("to_inference_data needs a single dataset: use result.item(i)")
    return az.from_dict(posterior=result.samples, sample_stats=result.sample_stats,
                        attrs={"sampler": result.sampler})


def _elements(name: str, draws: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """(label, (chains, draws) array) for each element of a parameter of shape (chains, draws, *shape)."""
    shape = draws.shape[2:]
    if not shape:
        yield name, draws
        return
    for index in np.ndindex(*shape):
        yield f"{name}[{','.join(map(str, index))}]", draws[(slice(None), slice(None), *index)]


def parameter_summary(result: SamplerResult, var_names: Sequence[str] | None = None) -> dict[str, dict]:
    """Posterior mean, sd, quantiles (2.5, 16, 50, 84, 97.5 %), R-hat, bulk and tail ESS per parameter."""
    if result.batch is not None:
        raise ValueError("parameter_summary needs a single dataset: use result.item(i)")
    names = list(var_names) if var_names is not None else list(result.samples)
    table: dict[str, dict] = {}
    for name in names:
        for label, draws in _elements(name, np.asarray(result.samples[name], dtype=np.float64)):
            quantiles = np.percentile(draws, QUANTILES)
            row: dict[str, Any] = {"mean": float(draws.mean()), "sd": float(draws.std(ddof=1))}
            row.update({f"q{q:g}": float(v) for q, v in zip(QUANTILES, quantiles, strict=True)})
            row["r_hat"] = _finite(az.rhat(draws))
            row["ess_bulk"] = _finite(az.ess(draws, method="bulk"))
            row["ess_tail"] = _finite(az.ess(draws, method="tail"))
            table[label] = row
    return table


def _finite(value: Any) -> float | None:
    """A float, or None where ArviZ returns NaN (e.g. a constant parameter)."""
    value = float(np.asarray(value))
    return value if np.isfinite(value) else None


def _extreme(table: dict[str, dict], key: str, pick: Any) -> float | None:
    values = [row[key] for row in table.values() if row[key] is not None]
    return float(pick(values)) if values else None


def run_diagnostics(result: SamplerResult, var_names: Sequence[str] | None = None,
                    table: dict[str, dict] | None = None) -> dict[str, Any]:
    """Run-level diagnostics over `var_names` (default all): worst R-hat and ESS, divergences, efficiency.

    `table` reuses a :func:`parameter_summary` already computed for the same names.
    """
    table = table if table is not None else parameter_summary(result, var_names)
    min_bulk = _extreme(table, "ess_bulk", min)
    divergences = int(np.asarray(result.sample_stats.get("diverging", np.zeros(1))).sum())
    draws = next(iter(result.samples.values())).shape[:2]
    per = lambda n: (min_bulk / n) if (min_bulk is not None and n) else None  # noqa: E731
    return {
        "chains": int(draws[0]),
        "draws_per_chain": int(draws[1]),
        "divergences": divergences,
        "max_r_hat": _extreme(table, "r_hat", max),
        "min_ess_bulk": min_bulk,
        "min_ess_tail": _extreme(table, "ess_tail", min),
        "wall_time_s": result.wall_time_s,
        "compile_time_s": result.compile_time_s,
        "ess_per_s": per(result.wall_time_s),
        "ess_per_gradient": per(result.n_gradient_evals),
        "ess_per_evaluation": per(result.n_density_evals),
        "n_gradient_evals": result.n_gradient_evals,
        "n_density_evals": result.n_density_evals,
    }
