"""Plots of ``iaemu evaluate``: predicted vs true curves with bands, error per bin, z-scores vs N(0, 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emulators.ia.data import STATISTICS, MockData
from emulators.ia.interface import Prediction

LABELS = {"xi": r"$\xi(r)$", "omega": r"$\omega(r)$", "eta": r"$\eta(r)$"}


def _figure(rows: int, cols: int, size: tuple[float, float]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    return plt, fig, axes


def plot_curves(data: MockData, pred: Prediction, path: Path, n_rows: int = 4) -> None:
    """A few test rows: realisation mean ± σ_mean (points), prediction with 68% bands (total, aleatoric)."""
    n_rows = min(n_rows, len(data.params))
    plt, fig, axes = _figure(n_rows, len(STATISTICS), (12, 2.6 * n_rows))
    picks = np.linspace(0, len(data.params) - 1, axes.shape[0]).astype(int)
    for row, i in enumerate(picks):
        for s, name in enumerate(STATISTICS):
            ax = axes[row, s]
            m, tot, alea = pred.mean[i, s], np.sqrt(pred.total[i, s]), np.sqrt(pred.aleatoric[i, s])
            ax.fill_between(data.r, m - tot, m + tot, color="C0", alpha=0.25, label="68% total")
            ax.fill_between(data.r, m - alea, m + alea, color="C0", alpha=0.35, label="68% aleatoric")
            ax.plot(data.r, m, color="C0", label="emulator")
            ax.errorbar(data.r, data.mean[i, s], data.std[i, s] / np.sqrt(data.n_real), fmt="o", ms=2.5,
                        color="k", label="mocks (mean ± σ_mean)")
            ax.set_xscale("log")
            if name == "xi" and np.all(data.mean[i, s] > 0):
                ax.set_yscale("log")
            ax.set_title(f"{LABELS[name]}, row {i}", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("r [Mpc/h]")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_error_per_bin(r: np.ndarray, metrics: dict, path: Path) -> None:
    """Per bin: percentiles of |Δ|/ξ (ξ) or |Δ|/σ_sim (ω, η), and the median |Δ|/σ_mean."""
    plt, fig, axes = _figure(1, len(STATISTICS), (13, 3.6))
    for s, name in enumerate(STATISTICS):
        ax, per_bin = axes[0, s], metrics["per_bin"][name]
        key = "abs_err_over_xi" if name == "xi" else "abs_err_over_sigma_sim"
        for q, style in (("p50", "-"), ("p68", "--"), ("p95", ":")):
            ax.plot(r, per_bin[key][q], style, color="C0", label=f"{key} {q}")
        ax.plot(r, per_bin["median_abs_err_over_sigma_mean"], color="C1", label="median |Δ|/σ_mean")
        ax.axhline(0.674, color="C1", lw=0.6, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("r [Mpc/h]")
        ax.set_title(LABELS[name])
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_zscores(data: MockData, pred: Prediction, path: Path) -> None:
    """Histogram of z = Δ / sqrt(predicted total variance) per statistic, with the N(0, 1) density."""
    plt, fig, axes = _figure(1, len(STATISTICS), (13, 3.6))
    grid = np.linspace(-5, 5, 201)
    for s, name in enumerate(STATISTICS):
        z = ((pred.mean[:, s] - data.mean[:, s]) / np.sqrt(pred.total[:, s])).ravel()
        z = z[np.isfinite(z)]
        ax = axes[0, s]
        ax.hist(np.clip(z, -5, 5), bins=50, range=(-5, 5), density=True, alpha=0.6, label="emulator")
        ax.plot(grid, np.exp(-0.5 * grid**2) / np.sqrt(2 * np.pi), color="k", label="N(0, 1)")
        ax.set_title(f"{LABELS[name]}: z mean {z.mean():.2f}, sd {z.std():.2f}")
        ax.set_xlabel("z")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(data: MockData, pred: Prediction, metrics: dict, folder: Path) -> None:
    """predicted_vs_true.png, error_per_bin.png and zscores.png into ``folder``."""
    plot_curves(data, pred, folder / "predicted_vs_true.png")
    plot_error_per_bin(data.r, metrics, folder / "error_per_bin.png")
    plot_zscores(data, pred, folder / "zscores.png")
