"""When a validation fits an injection again, and how: the retry policy of :mod:`inference.validation`.

A fitted batch (the per-injection arrays of ``inference.validation._fit_batch``: ``r_hat`` (K, F), ``div``,
``draws``, ``retried``) that missed the run's R-hat target, or had more than :data:`MAX_DIVERGENT_FRACTION`
of its draws divergent, is fitted once more from its start with :func:`retry_settings`: a step size adapted
to a higher acceptance (the cure for divergences), twice the warm-up (a longer adaptation of the dense mass
matrix) and twice the most draws (for chains slow to cross a long, curved posterior).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from inference.validation import ValidationSettings

MAX_DIVERGENT_FRACTION = 0.01  # a batch with more divergent draws than this is fitted again


def retry_settings(settings: ValidationSettings) -> ValidationSettings | None:
    """The settings of a batch's second fit: step sizes adapted to ``retry_target_accept``, twice the
    warm-up (a longer adaptation of the dense mass matrix) and twice the most draws; None when retries
    are off."""
    if settings.retry_target_accept is None:
        return None
    most = settings.max_samples or 4 * settings.samples
    return replace(
        settings, target_accept=settings.retry_target_accept, warmup=2 * settings.warmup, max_samples=2 * most
    )


def needs_retry(batch: dict[str, np.ndarray], settings: ValidationSettings) -> bool:
    """Whether a fitted batch missed ``rhat_target`` or had more than :data:`MAX_DIVERGENT_FRACTION` of
    its draws divergent (and was not itself a retry)."""
    if batch["retried"].any():
        return False
    unconverged = settings.rhat_target is not None and not np.nanmax(batch["r_hat"]) < settings.rhat_target
    divergent = batch["div"].max() > MAX_DIVERGENT_FRACTION * settings.chains * batch["draws"].max()
    return bool(unconverged or divergent)
