"""The report of an injection/recovery run (:mod:`inference.ia.validation.run`): coverage per parameter, the
terminal table, and the output directory (coverage.json, injections.csv, rank_histograms.png, coverage.png).

The central 68% / 95% intervals contain the truth when ``|u - 0.5| <= 0.34 / 0.475`` (``u`` = the posterior
fraction below the truth); SBC ranks are tested for uniformity with a chi-square over ``RANK_BINS`` bins.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import chisquare

from common.atomic import atomic_directory

if TYPE_CHECKING:  # annotations only: the report's helpers stay free of the likelihood (and JAX)
    from inference.ia.validation.settings import InjectionResults, ValidationSettings

LEVELS = (0.68, 0.95)
RANK_BINS = 10


def inside(u: np.ndarray, level: float) -> np.ndarray:
    """Whether the central ``level`` interval holds the truth, from the posterior fractions ``u`` below it."""
    return np.abs(np.asarray(u) - 0.5) <= level / 2


def coverage_report(res: InjectionResults) -> dict:
    """Per parameter: 68/95% coverage (with binomial standard errors), SBC chi-square p-value, R-hat."""
    k = len(res.truth)
    params = {}
    for i, name in enumerate(res.names):
        row = {}
        for level in LEVELS:
            row[f"coverage_{round(level * 100)}"] = float(inside(res.u[:, i], level).mean())
            row[f"coverage_{round(level * 100)}_se"] = float(np.sqrt(level * (1 - level) / k))
        counts = np.histogram(res.rank[:, i], bins=RANK_BINS, range=(-0.5, res.n_ranks + 0.5))[0]
        row["sbc_chi2_p"] = float(chisquare(counts).pvalue)
        row["max_r_hat"] = float(np.nanmax(res.r_hat[:, i]))
        row["mean_z"] = float(np.mean((res.post_mean[:, i] - res.truth[:, i]) / res.post_sd[:, i]))
        params[name] = row
    run = {
        "n_injections": k,
        "max_r_hat": float(np.nanmax(res.r_hat)),
        "fraction_r_hat_below_1.01": float(np.mean(np.nanmax(res.r_hat, axis=1) < 1.01)),
        "divergences": int(res.divergences.sum()),
        "retried": int((res.retried > 0).sum()),
        "draws_per_chain_median": float(np.median(res.draws)),
        "draws_per_chain_max": int(res.draws.max()),
        "wall_time_s": res.wall_time_s,
        "compile_time_s": res.compile_time_s,
        "n_ranks": res.n_ranks,
    }
    return {"parameters": params, "run": run}


def format_report(report: dict) -> str:
    """The terminal table of ``iaemu validate``."""
    lines = [f"{'parameter':<14}{'68% cover':>11}{'95% cover':>11}{'SBC p':>9}{'max R-hat':>11}"]
    for name, row in report["parameters"].items():
        lines.append(
            f"{name:<14}{row['coverage_68']:>11.3f}{row['coverage_95']:>11.3f}"
            f"{row['sbc_chi2_p']:>9.3f}{row['max_r_hat']:>11.4f}"
        )
    run = report["run"]
    lines.append(
        f"{run['n_injections']} injections ({run['retried']} fitted again), "
        f"{run['divergences']} divergences, "
        f"{100 * run['fraction_r_hat_below_1.01']:.0f}% with R-hat < 1.01, "
        f"median {run['draws_per_chain_median']:.0f} draws per chain"
    )
    return "\n".join(lines)


def _plots(out: Path, res: InjectionResults) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import binom

    n, k = len(res.names), len(res.truth)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.6), squeeze=False)
    lo, hi = binom.ppf([0.005, 0.995], k, 1 / RANK_BINS)
    for i, ax in enumerate(axes[0]):
        ax.hist(res.rank[:, i], bins=RANK_BINS, range=(-0.5, res.n_ranks + 0.5), color="C0")
        ax.axhspan(lo, hi, color="0.8", zorder=0)
        ax.set_title(res.names[i], fontsize=9)
        ax.set_xlabel("rank")
    fig.tight_layout()
    fig.savefig(out / "rank_histograms.png", dpi=90)
    plt.close(fig)
    levels = np.linspace(0.02, 0.98, 49)
    fig, ax = plt.subplots(figsize=(4, 4))
    band = np.sqrt(levels * (1 - levels) / k)
    ax.fill_between(levels, levels - 2 * band, levels + 2 * band, color="0.85", label="±2σ (binomial)")
    for i, name in enumerate(res.names):
        ax.plot(levels, [inside(res.u[:, i], a).mean() for a in levels], label=name, lw=1)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("nominal coverage of the central interval")
    ax.set_ylabel("empirical coverage")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "coverage.png", dpi=90)
    plt.close(fig)


def write_validation(
    out: str | Path, res: InjectionResults, report: dict, settings: ValidationSettings
) -> None:
    """Write coverage.json, injections.csv and the two plots into ``out``, atomically."""
    with atomic_directory(out) as tmp:
        (tmp / "coverage.json").write_text(
            json.dumps({**report, "settings": asdict(settings)}, indent=2) + "\n"
        )
        with open(tmp / "injections.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            cols = ("truth", "mean", "sd", "u", "rank", "r_hat")
            header = ["row", "realisation", "divergences", "draws", "retried"]
            writer.writerow(header + [f"{n}_{c}" for n in res.names for c in cols])
            for j in range(len(res.truth)):
                values = [
                    getattr(res, a)[j, i]
                    for i in range(len(res.names))
                    for a in ("truth", "post_mean", "post_sd", "u", "rank", "r_hat")
                ]
                ids = (res.rows[j], res.realisation[j], res.divergences[j], res.draws[j], res.retried[j])
                writer.writerow([*(int(x) for x in ids), *values])
        _plots(tmp, res)
