"""Heteroscedastic Gaussian losses of the IA emulator: β-NLL (Seitzer et al. 2022) with a β schedule.

All tensors are in the emulator's scaled space and shaped (batch, statistic, bin). The network predicts
``var``, the variance of ONE realisation of the simulator; a training row carries the mean ``target`` of
its ``n`` realisations and ``sem2``, the squared standard error of that mean. The quantity the emulator is
compared with is the realisation mean, whose variance is ``var / n``.

``use_scatter=True`` (default): the exact Gaussian likelihood of all ``n`` realisations, written with their
sufficient statistics (per realisation, so independent of ``n``)::

    0.5 * [log var + ((target - mean)^2 + (n - 1) * sem2) / var]

It learns the noise from the scatter between realisations (n - 1 degrees of freedom per row) plus the
residual of the mean (1 more), so the variance estimate is ~n times less noisy than from the means alone,
and the emulator's own misfit b leaks into it only as b^2 / n. ``use_scatter=False``: the NLL of the
realisation mean alone, ``0.5 * [log(var / n) + (target - mean)^2 / (var / n)]`` (IAEmu's choice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


def gaussian_nll(mean: torch.Tensor, var: torch.Tensor, target: torch.Tensor, sem2: torch.Tensor,
                 n_real: float, *, use_scatter: bool = True) -> torch.Tensor:
    """Per-element negative log-likelihood (without the constant 0.5 log 2π), same shape as ``mean``."""
    if use_scatter:
        return 0.5 * (torch.log(var) + ((target - mean) ** 2 + (n_real - 1) * sem2) / var)
    var_mean = var / n_real
    return 0.5 * (torch.log(var_mean) + (target - mean) ** 2 / var_mean)


def beta_nll(mean: torch.Tensor, var: torch.Tensor, target: torch.Tensor, sem2: torch.Tensor,
             mask: torch.Tensor, n_real: float, beta: torch.Tensor | float, *, use_scatter: bool = True
             ) -> torch.Tensor:
    """β-NLL: the NLL weighted by ``var.detach() ** beta``, averaged over unmasked elements.

    ``beta`` is a scalar or a tensor broadcastable to (1, statistic, 1); β = 0 is the plain NLL, β = 1 gives
    every point the weight of a mean-squared error (it stops low-noise points dominating the mean's fit).
    """
    mean, var = mean.float(), var.float()
    nll = gaussian_nll(mean, var, target, sem2, n_real, use_scatter=use_scatter)
    weight = mask.to(nll.dtype)
    if not (isinstance(beta, float) and beta == 0.0):
        weight = weight * var.detach() ** beta
    return (nll * weight).sum() / mask.sum().clamp_min(1)


@dataclass(frozen=True)
class BetaSchedule:
    """IAEmu's schedule: β = ``warm_beta`` for ``warmup_epochs`` epochs, then one β per statistic."""

    warmup_epochs: int = 20
    warm_beta: float = 1.0
    betas: Sequence[float] = (0.9, 0.5, 0.5)

    def __call__(self, epoch: int, device: torch.device | None = None) -> torch.Tensor:
        """β for ``epoch``, shaped (1, statistic, 1)."""
        values = [self.warm_beta] * len(self.betas) if epoch < self.warmup_epochs else list(self.betas)
        return torch.tensor(values, dtype=torch.float32, device=device).view(1, -1, 1)
