"""When a validation fits an injection again, and how: the retry policy of :mod:`inference.ia.validation.run`.

A fitted batch (the per-injection arrays of ``inference.ia.validation.run._fit_batch``: ``r_hat`` (K, F),
``div``, ``draws``, ``retried``) that missed the run's R-hat target, or had more than
:data:`MAX_DIVERGENT_FRACTION` of its draws divergent, is fitted again from its start, at most ``max_retries``
times. Refit ``n`` uses :func:`retry_settings`: a step size adapted to a higher acceptance (the cure for
divergences), 2^n times the warm-up (a longer adaptation of the dense mass matrix) and 2^n times the most
draws (for chains slow to cross a long, curved posterior).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from inference.ia.validation.settings import ValidationSettings

MAX_DIVERGENT_FRACTION = 0.01  # a batch with more divergent draws than this is fitted again


def retry_settings(settings: ValidationSettings, refit: int) -> ValidationSettings:
    """The settings of a batch's ``refit``-th fit after its first (1, 2, ...): step sizes adapted to
    ``retry_target_accept``, 2^refit times the warm-up and 2^refit times the most draws."""
    most = settings.most_draws
    grow = 2**refit
    return replace(
        settings,
        target_accept=settings.retry_target_accept,
        warmup=grow * settings.warmup,
        max_samples=grow * most,
    )


def needs_retry(batch: dict[str, np.ndarray], settings: ValidationSettings) -> bool:
    """Whether a fitted batch missed ``rhat_target`` or had more than :data:`MAX_DIVERGENT_FRACTION` of
    its draws divergent, and may still be fitted again (retries on, fewer than ``max_retries`` refits)."""
    if settings.retry_target_accept is None or int(batch["retried"].max()) >= settings.max_retries:
        return False
    unconverged = settings.rhat_target is not None and not np.nanmax(batch["r_hat"]) < settings.rhat_target
    divergent = batch["div"].max() > MAX_DIVERGENT_FRACTION * settings.chains * batch["draws"].max()
    return bool(unconverged or divergent)
