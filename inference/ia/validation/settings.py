"""What an injection/recovery run is given and what it returns: the types the validation's modules share
(:mod:`inference.ia.validation.run`, :mod:`~inference.ia.validation.retry`,
:mod:`~inference.ia.validation.report`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import check_choice, check_number, check_seed
from inference.ia.likelihood import DEFAULT_EMULATOR_COVARIANCE, EmulatorCovariance, EmulatorVariance
from inference.ia.observations import check_stats
from inference.ia.settings import IANutsSettings


@dataclass
class ValidationSettings(IANutsSettings):
    """How many injections, which likelihood, and the NUTS budget per injection (the fields it inherits;
    ``batch`` injections per program)."""

    n_injections: int = 200
    stats: tuple[str, ...] | None = None
    emulator_variance: EmulatorVariance = "both"
    batch: int = 1  # a batch goes on until all its injections reach rhat_target: 1 lets each stop alone
    # "fixed": the emulator covariance at each injection's mode; "varying": it follows the parameters
    emulator_covariance: EmulatorCovariance = DEFAULT_EMULATOR_COVARIANCE
    retry_target_accept: float | None = 0.99  # a batch unconverged or divergent is fitted again; None: never
    max_retries: int = 2  # most refits of a batch (validation_retry: each doubles warm-up and draws again)
    n_ranks: int = 99
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self.emulator_variance, EmulatorVariance, "emulator_variance")
        check_choice(self.emulator_covariance, EmulatorCovariance, "emulator_covariance")
        if self.stats is not None:
            check_stats(self.stats, "stats")
        for name in ("n_injections", "batch"):
            check_number(getattr(self, name), name, 1, integer=True)
        check_seed(self.seed)


@dataclass
class InjectionResults:
    """Per injection (K) and free parameter (F): truths, posterior summaries, u, ranks, R-hat."""

    names: tuple[str, ...]
    rows: np.ndarray  # (K,) held-out rows
    realisation: np.ndarray  # (K,)
    truth: np.ndarray  # (K, F)
    post_mean: np.ndarray
    post_sd: np.ndarray
    u: np.ndarray  # posterior fraction below the truth
    rank: np.ndarray  # SBC rank in 0..n_ranks
    r_hat: np.ndarray
    divergences: np.ndarray  # (K,)
    draws: np.ndarray  # (K,) draws per chain behind each posterior (more than `samples` when R-hat asked)
    retried: np.ndarray  # (K,) refits before the kept posterior: 0 the first fit's (validation_retry)
    n_ranks: int
    wall_time_s: float
    compile_time_s: float
