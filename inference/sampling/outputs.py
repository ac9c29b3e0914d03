"""The fit directory of docs/ARCHITECTURE.md 3.5, written atomically, and the short terminal table.

    write_fit_directory(out, result, *, seed, data_hash, model_hash, var_names=None, corner_vars=None,
                        plots=None, extra=None) -> dict (the summary)
        out/posterior.nc   ArviZ InferenceData: posterior, sample_stats (diverging, num_steps, ...)
        out/summary.json   {"parameters": {name: {mean, sd, q2.5, q16, q50, q84, q97.5, r_hat, ess_bulk,
                            ess_tail}}, "run": {sampler, settings, seed, wall_time_s, compile_time_s,
                            ess_per_s, ess_per_gradient, divergences, max_r_hat, ..., data_hash,
                            model_hash, versions}, **extra}
        out/corner.png     corner plot of `corner_vars` (default `var_names`)
        out/<name>         one file per entry of `plots`: {"ppc.png": writer}, writer(path) draws it
    fit_summary(result, ...) -> dict      the summary without writing anything
    format_table(summary) -> str          mean, sd, 68% interval, R-hat, bulk ESS per parameter
    convergence_warning(summary) -> str | None   the line when NUTS stopped with R-hat above its target
    package_versions() -> {package: version}

A failure anywhere (a plot included) leaves `out` as it was: nothing is half-written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from common.atomic import atomic_directory
from inference.sampling.diagnostics import parameter_summary, run_diagnostics, to_inference_data
from inference.sampling.nuts import SamplerResult

PlotWriter = Callable[[Path], None]
VERSIONED = ("iaemu", "numpy", "jax", "jaxlib", "numpyro", "emcee", "arviz", "corner", "matplotlib")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a fit depends on."""
    versions = {}
    for name in VERSIONED:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "absent"
    return versions


def fit_summary(result: SamplerResult, *, seed: int, data_hash: str, model_hash: str,
                var_names: Sequence[str] | None = None, extra: Mapping[str, Any] | None = None) -> dict:
    """The content of summary.json (see the module docstring)."""
    table = parameter_summary(result, var_names)
    run = {"sampler": result.sampler, "settings": result.settings, "seed": seed,
           **run_diagnostics(result, table=table),
           "data_hash": data_hash, "model_hash": model_hash, "versions": package_versions()}
    return {"parameters": table, "run": run, **dict(extra or {})}


def _corner(path: Path, result: SamplerResult, names: Sequence[str]) -> None:
    import corner
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns, labels = [], []
    for name in names:
        draws = np.asarray(result.samples[name], dtype=np.float64)
        flat = draws.reshape(draws.shape[0] * draws.shape[1], -1)
        columns.append(flat)
        labels += [name] if flat.shape[1] == 1 else [f"{name}[{i}]" for i in range(flat.shape[1])]
    data = np.concatenate(columns, axis=1)
    figure = corner.corner(data, labels=labels, quantiles=[0.16, 0.5, 0.84], show_titles=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_fit_directory(
    out: str | os.PathLike[str],
    result: SamplerResult,
    *,
    seed: int,
    data_hash: str,
    model_hash: str,
    var_names: Sequence[str] | None = None,
    corner_vars: Sequence[str] | None = None,
    plots: Mapping[str, PlotWriter] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict:
    """Write posterior.nc, summary.json, corner.png and the fit's own plots into `out`; return the summary.

    var_names: parameters in summary.json (default all sampled and deterministic ones); corner_vars: those
    in the corner plot (default var_names). `out` is replaced as a whole, atomically.
    """
    summary = fit_summary(result, seed=seed, data_hash=data_hash, model_hash=model_hash,
                          var_names=var_names, extra=extra)
    with atomic_directory(out) as tmp:
        to_inference_data(result).to_netcdf(str(tmp / "posterior.nc"))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        _corner(tmp / "corner.png", result, list(corner_vars or var_names or result.samples))
        for name, writer in (plots or {}).items():
            writer(tmp / name)
    return summary


def format_table(summary: Mapping[str, Any]) -> str:
    """The short terminal table: mean, sd, 68% interval, R-hat and bulk ESS per parameter."""
    rows = [f"{'parameter':<16}{'mean':>11}{'sd':>10}{'68% interval':>24}{'R-hat':>8}{'ESS':>8}"]
    for name, row in summary["parameters"].items():
        rhat = "-" if row["r_hat"] is None else f"{row['r_hat']:.3f}"
        ess = "-" if row["ess_bulk"] is None else f"{row['ess_bulk']:.0f}"
        interval = f"[{row['q16']:.4g}, {row['q84']:.4g}]"
        rows.append(f"{name:<16}{row['mean']:>11.4g}{row['sd']:>10.3g}{interval:>24}{rhat:>8}{ess:>8}")
    run = summary["run"]
    rows.append(f"{run['sampler']}: {run['divergences']} divergences, {run['wall_time_s']:.1f} s "
                f"(+{run['compile_time_s']:.1f} s compile)")
    return "\n".join(rows)


def convergence_warning(summary: Mapping[str, Any]) -> str | None:
    """The warning line when a NUTS run that went on for an ``rhat_target`` stopped at its ``max_samples``
    with its largest R-hat not below it; else None (also for a fixed budget, and for emcee)."""
    run = summary["run"]
    worst = run.get("max_r_hat")
    target = run["settings"].get("rhat_target")
    if run["sampler"] != "nuts" or not target or worst is None or worst < target:
        return None
    worst_name = max((name for name, row in summary["parameters"].items() if row["r_hat"] is not None),
                     key=lambda name: summary["parameters"][name]["r_hat"])
    return (f"warning: the chains have not converged: R-hat {worst:.3f} ({worst_name}) is not below "
            f"{target:g} after {run['draws_per_chain']} draws per chain; sample longer")
