"""ppc.png of an IA fit: the data against the posterior's model bands, and the residuals in units of σ.

σ is the square root of the diagonal of the covariance the fit holds (data, jackknife-corrected, plus the
emulator's; :mod:`inference.ia.goodness`), at the posterior mean. Radii in comoving Mpc/h.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from inference.ia.goodness import PosteriorModel
from inference.ia.likelihood import IALikelihood

LABELS = {"xi": "ξ(r)", "omega": "ω(r)", "eta": "η(r)"}


def ppc_writer(like: IALikelihood, model: PosteriorModel) -> Callable[[Path], None]:
    """A writer of ppc.png: per statistic, the data with 1σ error bars and the posterior's 68%/95% bands of
    the model over the thinned draws of ``model`` (top), and the residuals (data − posterior median) / σ
    (bottom)."""

    def write(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        mean, sigma = model.mean[1:], np.sqrt(np.diag(model.cov[0]))
        r, nb, n_stats = like.r, like.r.size, len(like.stats)
        fig, axes = plt.subplots(2, n_stats, figsize=(4.2 * n_stats, 5.4), squeeze=False, sharex="col",
                                 gridspec_kw={"height_ratios": [2.2, 1.0]})
        for j, stat in enumerate(like.stats):
            top, bottom, part = axes[0][j], axes[1][j], slice(j * nb, (j + 1) * nb)
            lo95, lo68, med, hi68, hi95 = np.percentile(mean[:, part], [2.5, 16, 50, 84, 97.5], axis=0)
            top.fill_between(r, lo95, hi95, color="C0", alpha=0.2, label="posterior 95%")
            top.fill_between(r, lo68, hi68, color="C0", alpha=0.4, label="posterior 68%")
            top.plot(r, med, color="C0")
            top.errorbar(r, like.data[part], yerr=sigma[part], fmt="o", ms=3, color="k", label="data")
            log_xi = stat == "xi" and like.xi_space == "log"
            if stat == "xi" and not log_xi and np.all(like.data[part] > 0):
                top.set_yscale("log")
            top.set_ylabel("log ξ(r)" if log_xi else LABELS[stat])
            bottom.axhspan(-1, 1, color="0.85")
            bottom.axhline(0, color="0.4", lw=0.8)
            bottom.plot(r, (like.data[part] - med) / sigma[part], "o", ms=3, color="k")
            bottom.set_xscale("log")
            bottom.set_xlabel("r [Mpc/h]")
            bottom.set_ylabel("(data − model) / σ")
        axes[0][0].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)

    return write
