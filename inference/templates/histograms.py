"""Score histograms and the signal/background templates of a template fit, with their MC uncertainty.

    score_edges(bins, signal, background, *others) -> edges   K equal-population bins of the pooled MC
    histogram(scores, edges, *, weights=None, source="scores") -> Histogram
    check_same_binning((name, edges), ...)                     InputError naming both binnings
    make_templates(signal, background) -> Templates             normalised shapes + MC uncertainty

A template is the histogram of a tagger score (dimensionless, in [0, 1] for a probability) over an
independent simulated sample, normalised to unit sum; the uncertainty of a bin fraction is its MC
statistical error, sqrt(sum of squared weights) / sum of weights (sqrt(k)/K for k of K unweighted jets).
Bad input (empty samples, non-finite scores, scores outside explicit edges, mismatched binnings, bins empty
in both templates) raises InputError.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from common.errors import InputError


@dataclass(frozen=True)
class Histogram:
    """Counts of a score in bins: edges (K+1,), counts and sumw2 (K,) (sums of weights and their squares)."""

    edges: np.ndarray
    counts: np.ndarray
    sumw2: np.ndarray
    source: str = "scores"

    @property
    def total(self) -> float:
        """Sum of the weights (the number of jets when unweighted)."""
        return float(self.counts.sum())


@dataclass(frozen=True)
class Templates:
    """Normalised signal and background shapes (K,) with their absolute MC errors (K,), on `edges`."""

    edges: np.ndarray
    signal: np.ndarray
    signal_err: np.ndarray
    background: np.ndarray
    background_err: np.ndarray
    n_signal: float
    n_background: float


def _scores(scores: np.ndarray, source: str) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size == 0:
        raise InputError(f"{source}: scores: expected at least one jet, got none")
    if not np.all(np.isfinite(scores)):
        bad = int(np.sum(~np.isfinite(scores)))
        raise InputError(f"{source}: scores: expected finite numbers, got {bad} NaN/inf")
    return scores


def score_edges(bins: int | Sequence[float], signal: np.ndarray, background: np.ndarray,
                *others: np.ndarray) -> np.ndarray:
    """Bin edges: explicit (checked to increase strictly) or `bins` equal-population bins of the pooled MC.

    Pooled-MC quantiles keep every bin populated in the summed template; the outer edges stretch to the
    smallest and largest score of every sample given (MC and data), so nothing falls outside. Tied
    quantiles (many identical scores) merge, so fewer than `bins` bins may come back.
    """
    if not isinstance(bins, int | np.integer):
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
            raise InputError(f"bins: expected >= 2 strictly increasing edges, got {edges.tolist()}")
        return edges
    if bins < 2:
        raise InputError(f"bins: expected a number of bins >= 2 (one bin cannot tell signal from "
                         f"background), got {bins}")
    pooled = np.concatenate([_scores(signal, "signal"), _scores(background, "background")])
    everything = np.concatenate([pooled, *(_scores(o, "data") for o in others)])
    inner = np.quantile(pooled, np.linspace(0, 1, bins + 1)[1:-1])
    edges = np.unique(np.concatenate([[everything.min()], inner, [everything.max()]]))
    if edges.size < 3:
        raise InputError(f"scores: every jet has the score {edges[0]:g}: expected scores that differ, so "
                         "that at least 2 bins can be made")
    return edges


def histogram(scores: np.ndarray, edges: np.ndarray, *, weights: np.ndarray | None = None,
              source: str = "scores") -> Histogram:
    """Histogram `scores` on `edges` (last bin closed); a score outside the edges is an InputError."""
    scores = _scores(scores, source)
    edges = np.asarray(edges, dtype=np.float64)
    outside = int(np.sum((scores < edges[0]) | (scores > edges[-1])))
    if outside:
        raise InputError(f"{source}: scores: {outside} jets outside the bins [{edges[0]:g}, {edges[-1]:g}]")
    w = np.ones_like(scores) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != scores.shape:
        raise InputError(f"{source}: weights: expected one per jet ({scores.size}), got {w.size}")
    counts, _ = np.histogram(scores, edges, weights=w)
    sumw2, _ = np.histogram(scores, edges, weights=w * w)
    return Histogram(edges=edges, counts=counts, sumw2=sumw2, source=source)


def check_same_binning(*named_edges: tuple[str, np.ndarray]) -> None:
    """Refuse binnings that differ: each argument is (name, edges); the first is the reference."""
    (first_name, first), *rest = [(name, np.asarray(edges, dtype=np.float64)) for name, edges in named_edges]
    for name, edges in rest:
        if edges.shape != first.shape or not np.allclose(edges, first, rtol=1e-9, atol=0.0):
            raise InputError(
                f"{name}: bins: expected the binning of {first_name} ({first.size - 1} bins, edges "
                f"{np.round(first, 6).tolist()}), got {edges.size - 1} bins "
                f"(edges {np.round(edges, 6).tolist()})")


def make_templates(signal: Histogram, background: Histogram) -> Templates:
    """Normalised templates with MC errors; both must be non-empty, share bins, and cover every bin."""
    check_same_binning((signal.source, signal.edges), (background.source, background.edges))
    for name, hist in (("signal", signal), ("background", background)):
        if np.any(hist.counts < 0):
            raise InputError(f"{hist.source}: {name} template: expected non-negative counts")
        if hist.total <= 0:
            raise InputError(f"{hist.source}: {name} template: expected at least one jet, got none")
    empty = np.flatnonzero((signal.counts <= 0) & (background.counts <= 0))
    if empty.size:
        raise InputError(f"{signal.source}, {background.source}: templates: bins {empty.tolist()} are empty "
                         "in both signal and background; expected fewer or wider bins")
    return Templates(
        edges=signal.edges,
        signal=signal.counts / signal.total,
        signal_err=np.sqrt(signal.sumw2) / signal.total,
        background=background.counts / background.total,
        background_err=np.sqrt(background.sumw2) / background.total,
        n_signal=signal.total,
        n_background=background.total,
    )
