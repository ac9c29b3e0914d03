"""The loss is the likelihood of all realisations; the log-space variance of ξ is brought back correctly."""

from __future__ import annotations

import numpy as np
import torch

from emulators.ia.emulator import combine
from emulators.ia.losses import BetaSchedule, beta_nll, gaussian_nll


def test_scatter_loss_is_the_likelihood_of_every_realisation() -> None:
    gen = torch.Generator().manual_seed(0)
    n = 6
    y = torch.randn(4, 3, n, 5, generator=gen, dtype=torch.float64)  # (rows, stats, realisations, bins)
    mean = torch.randn(4, 3, 5, generator=gen, dtype=torch.float64)
    var = torch.rand(4, 3, 5, generator=gen, dtype=torch.float64) + 0.1
    direct = 0.5 * (torch.log(var[:, :, None]) + (y - mean[:, :, None]) ** 2 / var[:, :, None]).mean(dim=2)
    ybar, sem2 = y.mean(dim=2), y.var(dim=2, unbiased=True) / n
    torch.testing.assert_close(gaussian_nll(mean, var, ybar, sem2, n), direct)
    # the realisation-mean NLL: var / n is the variance of the mean
    mean_only = gaussian_nll(mean, var, ybar, sem2, n, use_scatter=False)
    torch.testing.assert_close(mean_only, 0.5 * (torch.log(var / n) + (ybar - mean) ** 2 / (var / n)))


def test_optimal_variance_from_scatter() -> None:
    # minimising over var gives (ybar - mean)^2 + (n - 1) sem2: the single-realisation sample variance
    ybar, mean, sem2, n = torch.tensor(1.0), torch.tensor(0.8), torch.tensor(0.05), 8
    grid = torch.linspace(0.05, 1.0, 20001, dtype=torch.float64)
    best = grid[torch.argmin(gaussian_nll(mean, grid, ybar, sem2, n))]
    assert abs(float(best) - (0.2**2 + 7 * 0.05)) < 1e-4


def test_beta_nll_weights_and_mask() -> None:
    mean, var = torch.zeros(2, 3, 4), torch.full((2, 3, 4), 4.0)
    target, sem2 = torch.ones(2, 3, 4), torch.zeros(2, 3, 4)
    mask = torch.ones(2, 3, 4, dtype=torch.bool)
    plain = beta_nll(mean, var, target, sem2, mask, 1, 0.0)
    half = beta_nll(mean, var, target, sem2, mask, 1, 0.5)
    assert torch.isclose(half, plain * 2.0)  # weight var^0.5 = 2
    mask[0] = False
    target[0] = 1e6  # masked entries do not count
    assert torch.isclose(beta_nll(mean, var, target, sem2, mask, 1, 0.0), plain)
    sched = BetaSchedule(warmup_epochs=3, betas=(0.9, 0.5, 0.5))
    assert sched(2).flatten().tolist() == [1.0, 1.0, 1.0]
    assert np.allclose(sched(3).flatten().tolist(), [0.9, 0.5, 0.5])


def test_log_normal_moments_of_xi_against_sampling() -> None:
    # one member: log of the 4-realisation mean ~ N(mu, v / 4); ω untouched
    mu, v, n = 1.3, 0.08, 4
    passes = np.zeros((1, 1, 2, 3, 1))
    passes[0, 0, 0] = [[mu], [0.2], [0.1]]
    passes[0, 0, 1] = [[v], [0.04], [0.01]]
    pred = combine(passes, n_train=n, n_real=n)
    draws = np.exp(np.random.default_rng(0).normal(mu, np.sqrt(v / n), 2_000_000))
    assert abs(pred.mean[0, 0, 0] / draws.mean() - 1) < 1e-3
    assert abs(pred.aleatoric[0, 0, 0] / draws.var() - 1) < 1e-2
    # IAEmu's flaw (mean instead of mean^2) would be off by a factor E[ξ] ~ 3.8 here
    assert abs(pred.aleatoric[0, 0, 0] / (np.exp(mu) * v / n) - 1) > 0.5
    assert pred.aleatoric[0, 1, 0] == 0.04 / n and pred.epistemic[0, 1, 0] == 0.0


def test_ensemble_spread_is_the_epistemic_part() -> None:
    passes = np.zeros((3, 1, 2, 3, 1))
    passes[:, 0, 0, 1, 0] = [0.1, 0.2, 0.6]  # ω means of 3 members
    passes[:, 0, 1, 1, 0] = [0.01, 0.02, 0.03]
    passes[:, 0, 0, 0, 0] = np.log([1.0, 1.1, 1.2])
    passes[:, 0, 1, 0, 0] = 1e-4
    pred = combine(passes, n_train=8, n_real=8)
    assert np.isclose(pred.mean[0, 1, 0], 0.3) and np.isclose(
        pred.epistemic[0, 1, 0], np.var([0.1, 0.2, 0.6])
    )
    assert np.isclose(pred.aleatoric[0, 1, 0], 0.02 / 8)
    assert np.isclose(pred.total[0, 1, 0], np.var([0.1, 0.2, 0.6]) + 0.02 / 8)
    s2_e = np.var(np.log([1.0, 1.1, 1.2]))
    assert np.isclose(pred.epistemic[0, 0, 0], np.expm1(s2_e) * pred.mean[0, 0, 0] ** 2)
