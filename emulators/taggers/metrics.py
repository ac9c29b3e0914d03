"""Tagger metrics (docs/ARCHITECTURE.md 4.5): accuracy, ROC AUC, background rejection 1/εB at fixed signal
efficiency, each with a bootstrap uncertainty (jets resampled with replacement). Labels: 1 top (signal), 0
QCD."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

WORKING_POINTS = (0.3, 0.5)


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels, scores = np.asarray(labels).astype(bool), np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} must be equal 1-d shapes")
    if labels.all() or not labels.any():
        raise ValueError("metrics need both signal (label 1) and background (label 0) jets")
    return labels, scores


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(εS, εB, thresholds): efficiencies of the cut `score >= threshold`, thresholds decreasing, ties merged.

    The curve starts at (0, 0) with threshold +inf.
    """
    labels, scores = _check(labels, scores)
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp, fp = np.cumsum(y)[last_of_tie], np.cumsum(~y)[last_of_tie]
    eff_s = np.r_[0.0, tp / labels.sum()]
    eff_b = np.r_[0.0, fp / (~labels).sum()]
    return eff_s, eff_b, np.r_[np.inf, s[last_of_tie]]


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve = P(score_signal > score_background) + P(tie)/2 (Mann–Whitney, with ranks)."""
    labels, scores = _check(labels, scores)
    n_s, n_b = labels.sum(), (~labels).sum()
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_s * (n_s + 1) / 2) / (n_s * n_b))


def rejection(labels: np.ndarray, scores: np.ndarray, eff_signal: float) -> float:
    """1/εB at signal efficiency `eff_signal` (εB linearly interpolated along the ROC; inf when εB = 0)."""
    eff_s, eff_b, _ = roc_curve(labels, scores)
    eb = float(np.interp(eff_signal, eff_s, eff_b))
    return 1.0 / eb if eb > 0 else float("inf")


def accuracy(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of jets classified correctly by `score >= threshold`."""
    labels, scores = _check(labels, scores)
    return float(np.mean((scores >= threshold) == labels))


def point_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """accuracy, auc and rejection_30 / rejection_50 (1/εB at εS = 0.3, 0.5) of one sample."""
    out = {"accuracy": accuracy(labels, scores), "auc": roc_auc(labels, scores)}
    for wp in WORKING_POINTS:
        out[f"rejection_{round(100 * wp)}"] = rejection(labels, scores, wp)
    return out


def tagger_metrics(labels: np.ndarray, scores: np.ndarray, *, n_bootstrap: int = 200, seed: int = 0
                   ) -> dict[str, dict[str, float]]:
    """Each metric's value on the sample and its bootstrap std and 16/84 % quantiles ({"value", "std",
    "q16", "q84"}), plus "n_signal" / "n_background" counts under "counts"."""
    labels, scores = _check(labels, scores)
    value = point_metrics(labels, scores)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in value}
    for _ in range(n_bootstrap):
        idx = rng.integers(0, len(labels), len(labels))
        if labels[idx].all() or not labels[idx].any():
            continue
        for k, v in point_metrics(labels[idx], scores[idx]).items():
            draws[k].append(v)
    out: dict[str, dict[str, float]] = {}
    for k, v in value.items():
        d = np.asarray(draws[k])
        finite = d[np.isfinite(d)]
        out[k] = {"value": v, "std": float(finite.std(ddof=1)) if len(finite) > 1 else float("nan"),
                  "q16": float(np.quantile(d, 0.16, method="nearest")) if len(d) else float("nan"),
                  "q84": float(np.quantile(d, 0.84, method="nearest")) if len(d) else float("nan")}
    out["counts"] = {"n_signal": int(labels.sum()), "n_background": int((~labels).sum()),
                     "n_bootstrap": int(n_bootstrap)}
    return out
