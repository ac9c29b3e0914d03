"""The signal fraction of a mixed sample by NUTS on tagger-score templates.

    fit_signal_fraction(scores_data, scores_signal, scores_background, *, bins=10, ...) -> FitResult
    fit_histograms(data, signal, background, ...) -> FitResult          the same from histograms
    fit_toys(counts, templates, ...) -> SamplerResult                    many datasets, one compiled sampler
    fit_tagger_files(tagger_dir, data, signal, background, out, ...) -> summary dict
        scores every jet of three ROOT files with the tagger, fits, writes the fit directory of
        docs/ARCHITECTURE.md 3.5 (posterior.nc, summary.json, corner.png, ppc.png: data vs the fitted stack)

The likelihood and its parameters (ν_s, ν_b, derived f; Barlow–Beeston-lite γ_i) are those of
:mod:`inference.templates.likelihood`. Scores are dimensionless tagger outputs; yields count jets.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from common.errors import InputError, check_seed
from common.hashing import hash_arrays, hash_files
from common.outputs import check_output, holds
from emulators.artifact_files import TAGGER_JSON
from inference.sampling.nuts import SamplerResult, run_nuts
from inference.sampling.outputs import write_fit_directory
from inference.sampling.settings import NutsSettings
from inference.templates.histograms import Histogram, Templates, histogram, make_templates, score_edges
from inference.templates.likelihood import TemplateData, start_values, template_data, template_model

MAIN_VARS = ("f", "nu_s", "nu_b")
# NUTS for template fits: a dense mass matrix, as ν_s and ν_b are anticorrelated; many toys: a smaller budget
TEMPLATE_NUTS = NutsSettings(dense_mass=True)
TOY_NUTS = replace(TEMPLATE_NUTS, chains=2, warmup=300, samples=500)


@dataclass
class FitResult:
    """A template fit: the NUTS run, the templates and data histogram it saw, and its settings."""

    sampler: SamplerResult
    templates: Templates
    data: Histogram
    template_uncertainty: bool

    @property
    def fraction(self) -> np.ndarray:
        """Posterior draws of the signal fraction f, all chains pooled."""
        return np.asarray(self.sampler.samples["f"], dtype=np.float64).ravel()

    def interval(self, level: float = 0.68, name: str = "f") -> tuple[float, float]:
        """Equal-tailed posterior interval of `name` at credibility `level`."""
        draws = np.asarray(self.sampler.samples[name], dtype=np.float64).ravel()
        low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
        return float(low), float(high)


@functools.cache
def _model(template_uncertainty: bool) -> Any:
    """The model as one object per setting, so that compiled samplers are reused across fits."""
    return functools.partial(template_model, template_uncertainty=template_uncertainty)


def _init(counts: np.ndarray, n_bins: int, template_uncertainty: bool) -> dict[str, Any]:
    init: dict[str, Any] = dict(start_values(counts))
    if template_uncertainty:
        init["gamma_z"] = jnp.zeros(n_bins)
    return init


def fit_histograms(data: Histogram, signal: Histogram, background: Histogram, *,
                   template_uncertainty: bool = True, nuts: NutsSettings = TEMPLATE_NUTS, seed: int = 0,
                   quiet: bool = False, **budget: Any) -> FitResult:
    """Fit the signal fraction of `data` given signal and background histograms on the same bins
    (``budget``: NutsSettings fields that override ``nuts``, e.g. ``chains=2``)."""
    templates = make_templates(signal, background)
    if np.allclose(templates.signal, templates.background, rtol=0.0, atol=1e-12):
        raise InputError(f"{signal.source}, {background.source}: templates: the signal and background shapes "
                         "are identical: expected templates that differ, or the fraction is unconstrained")
    args = template_data(data, templates)
    result = run_nuts(_model(template_uncertainty), nuts, model_args=(args,), seed=seed, quiet=quiet,
                      init=_init(data.counts, data.counts.size, template_uncertainty), **budget)
    return FitResult(result, templates, data, template_uncertainty)


def fit_signal_fraction(scores_data: np.ndarray, scores_signal: np.ndarray, scores_background: np.ndarray,
                        *, bins: int | Sequence[float] = 10, template_uncertainty: bool = True,
                        nuts: NutsSettings = TEMPLATE_NUTS, seed: int = 0, quiet: bool = False,
                        **budget: Any) -> FitResult:
    """Fit the fraction of signal jets in `scores_data` from signal and background MC scores.

    bins: a number of equal-population bins of the pooled MC scores, or explicit edges. Every jet is
    unweighted. Returns the posterior of ν_s, ν_b (jets), f and the Barlow–Beeston-lite γ_i.
    """
    edges = score_edges(bins, scores_signal, scores_background, scores_data)
    return fit_histograms(histogram(scores_data, edges, source="data"),
                          histogram(scores_signal, edges, source="signal"),
                          histogram(scores_background, edges, source="background"),
                          template_uncertainty=template_uncertainty, nuts=nuts, seed=seed, quiet=quiet,
                          **budget)


def fit_toys(counts: np.ndarray, templates: TemplateData | Templates, *, template_uncertainty: bool = True,
             nuts: NutsSettings = TOY_NUTS, seed: int = 0, quiet: bool = False,
             **budget: Any) -> SamplerResult:
    """Fit many datasets `counts` (B, K) in one compiled program; samples have shape (B, chains, draws).

    templates: one set for every dataset (Templates), or per-dataset arrays (TemplateData whose template
    fields have shape (B, K), e.g. MC templates redrawn for every toy; its `counts` field is ignored).
    """
    counts = np.asarray(counts, dtype=np.float32)
    if isinstance(templates, Templates):
        templates = TemplateData(None, templates.signal, templates.signal_err, templates.background,
                                 templates.background_err)
    fields = [np.broadcast_to(np.asarray(a, dtype=np.float32), counts.shape) for a in templates[1:]]
    args = TemplateData(jnp.asarray(counts), *(jnp.asarray(a) for a in fields))
    init = _init(counts.mean(axis=0), counts.shape[1], template_uncertainty)
    return run_nuts(_model(template_uncertainty), nuts, model_args=(args,), seed=seed, quiet=quiet, init=init,
                    batch=True, **budget)


def stack_plot(fit: FitResult, path: Path) -> None:
    """Data vs the fitted stack (posterior medians) with the 68% band of the posterior predictive counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    draws = fit.sampler.samples
    nu_s = np.asarray(draws["nu_s"]).reshape(-1, 1)
    nu_b = np.asarray(draws["nu_b"]).reshape(-1, 1)
    gamma = np.asarray(draws["gamma"]).reshape(nu_s.size, -1) if fit.template_uncertainty else 1.0
    signal = np.median(nu_s * fit.templates.signal * gamma, axis=0)
    background = np.median(nu_b * fit.templates.background * gamma, axis=0)
    rng = np.random.default_rng(0)
    predictive = rng.poisson(np.maximum((nu_s * fit.templates.signal + nu_b * fit.templates.background)
                                        * gamma, 0.0))
    low, high = np.quantile(predictive, [0.16, 0.84], axis=0)
    # bins drawn with equal widths (equal-population bins can be very narrow), labelled by their edges
    slots = np.arange(signal.size + 1)
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    axis.stairs(background, slots, fill=True, alpha=0.6, label="background (fitted)")
    axis.stairs(background + signal, slots, baseline=background, fill=True, alpha=0.6,
                label="signal (fitted)")
    axis.stairs(high, slots, baseline=low, fill=True, color="grey", alpha=0.35,
                label="68% posterior predictive")
    counts = fit.data.counts
    axis.errorbar(slots[:-1] + 0.5, counts, yerr=np.sqrt(counts), fmt="ko", ms=3, label="data")
    axis.set_xticks(slots, [f"{e:.3g}" for e in fit.templates.edges], rotation=60, fontsize=7)
    lo_f, hi_f = fit.interval(0.68)
    axis.set(xlabel="tagger score (bin edges)", ylabel="jets per bin", yscale="log",
             title=f"f = {np.median(fit.fraction):.3f}  (68%: [{lo_f:.3f}, {hi_f:.3f}])")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_template_fit(fit: FitResult, out: str | os.PathLike[str], *, seed: int, data_hash: str,
                       model_hash: str, extra: dict[str, Any] | None = None) -> dict:
    """Write the fit directory (docs/ARCHITECTURE.md 3.5) of `fit` into `out`; return its summary."""
    names = [*MAIN_VARS, *(["gamma"] if fit.template_uncertainty else [])]
    binning = {"edges": fit.templates.edges.tolist(), "data_counts": fit.data.counts.tolist(),
               "signal_template": fit.templates.signal.tolist(),
               "background_template": fit.templates.background.tolist(),
               "n_signal_mc": fit.templates.n_signal, "n_background_mc": fit.templates.n_background,
               "template_uncertainty": fit.template_uncertainty}
    return write_fit_directory(out, fit.sampler, seed=seed, data_hash=data_hash, model_hash=model_hash,
                               var_names=names, corner_vars=MAIN_VARS,
                               plots={"ppc.png": functools.partial(stack_plot, fit)},
                               extra={"templates": binning, **(extra or {})})


def _tagger_scores(tagger_dir: Path, root_file: Path, quiet: bool) -> np.ndarray:
    """Scores of every labelled jet of `root_file` by the tagger in `tagger_dir` (torch: emulators only)."""
    import tempfile

    import h5py

    from emulators.taggers.report import predict_file

    with tempfile.TemporaryDirectory(prefix="toptag-fit-") as tmp:
        scores_file = Path(tmp) / "scores.h5"
        predict_file(tagger_dir, root_file, scores_file, quiet=quiet)
        with h5py.File(scores_file, "r") as h5:
            return np.asarray(h5["score"][:], dtype=np.float64)


def _check_order(signal: np.ndarray, background: np.ndarray, paths: dict[str, Path]) -> None:
    """Refuse templates whose signal scores lower than the background on average (files swapped?)."""
    if signal.size and background.size and signal.mean() < background.mean():
        raise InputError(f"{paths['signal']}: scores: the signal jets score {signal.mean():.3g} on average, "
                         f"the background ({paths['background']}) {background.mean():.3g}: expected the "
                         "signal to score higher (are --signal and --background swapped?)")


def fit_tagger_files(tagger_dir: str | os.PathLike[str], data: str | os.PathLike[str],
                     signal: str | os.PathLike[str], background: str | os.PathLike[str],
                     out: str | os.PathLike[str], *, bins: int = 10, template_uncertainty: bool = True,
                     nuts: NutsSettings = TEMPLATE_NUTS, seed: int = 0, quiet: bool = False) -> dict:
    """Score the jets of three ROOT files with a tagger, fit the signal fraction of `data`, write `out`.

    Checked before any jet is scored: `out` (a fit directory that is none of the inputs, docs/ARCHITECTURE.md
    2), the seed, the files; after scoring, that the signal scores higher than the background on average."""
    tagger_dir = Path(tagger_dir)
    check_seed(seed)
    check_output(out, "dir", inputs=(tagger_dir, data, signal, background), own=holds("summary.json"),
                 what="fit directory")
    config = tagger_dir / TAGGER_JSON
    if not config.is_file():
        raise InputError(f"{tagger_dir}: tagger.json: expected a tagger directory with its config")
    paths = {"data": Path(data), "signal": Path(signal), "background": Path(background)}
    from catalogs.jets.rootio import open_tree

    for role, path in paths.items():
        if not path.is_file():
            raise InputError(f"{path}: --{role}: expected a ROOT file")
        open_tree(path)  # refuses an unreadable or empty file before any jet is scored
    if os.path.samefile(paths["signal"], paths["background"]):
        raise InputError(f"{paths['background']}: is the signal file too: expected two different jet files")
    scores = {role: _tagger_scores(tagger_dir, path, quiet) for role, path in paths.items()}
    _check_order(scores["signal"], scores["background"], paths)
    edges = score_edges(bins, scores["signal"], scores["background"], scores["data"])
    hists = {role: histogram(s, edges, source=str(paths[role])) for role, s in scores.items()}
    fit = fit_histograms(hists["data"], hists["signal"], hists["background"],
                         template_uncertainty=template_uncertainty, nuts=nuts, seed=seed, quiet=quiet)
    files = {role: str(path) for role, path in paths.items()}
    return write_template_fit(
        fit, out, seed=seed, data_hash=hash_files(*paths.values()),
        model_hash=hash_files(*sorted(p for p in tagger_dir.iterdir() if p.is_file())),
        extra={"inputs": {"tagger": str(tagger_dir), **files},
               "score_hash": hash_arrays(*scores.values())})
