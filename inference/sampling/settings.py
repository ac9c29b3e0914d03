"""The NUTS budget: one settings object, passed from the command line through the fits to the sampler.

:class:`NutsSettings` holds the generic defaults (numpyro's: target acceptance 0.8, diagonal mass, chains
side by side, exactly ``samples`` draws). A pipeline whose posteriors need more says so once, in a subclass
that changes defaults and nothing else (the IA fits: :class:`inference.ia.fit.IANutsSettings`); see
docs/ARCHITECTURE.md 4.4. Every field is checked when the object is made, before any sampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Literal

from common.errors import InputError, check_choice

ChainMethod = Literal["vectorized", "sequential"]
DEFAULT_RHAT_TARGET = 1.01  # the fits' default: R-hat < 1.01 (Vehtari et al. 2021), as cobaya's R-1 < 0.01


@dataclass
class NutsSettings:
    """chains × (warmup + samples) NUTS draws; with ``rhat_target`` the chains go on, in steps of
    ``samples // 2`` draws, until every parameter's R-hat is below it or each chain holds
    :attr:`most_draws` (``max_samples``, default 4 × ``samples``).

    chain_method: "vectorized" steps all chains together (each iteration costs the longest trajectory);
    "sequential" runs them one after the other in one program, each at its own trajectory length.
    """

    chains: int = 4
    warmup: int = 500
    samples: int = 1000
    target_accept: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = False
    chain_method: ChainMethod = "vectorized"
    rhat_target: float | None = None
    max_samples: int | None = None

    def __post_init__(self) -> None:
        check_choice(self.chain_method, ChainMethod, "NUTS: chain_method")
        counts = (self.chains, self.warmup, self.samples, self.max_tree_depth)
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in counts):
            raise InputError(
                f"NUTS: chains, warmup, samples, max_tree_depth: expected integers >= 1, got {counts}"
            )
        if not (isinstance(self.target_accept, int | float) and 0.0 < self.target_accept < 1.0):
            raise InputError(f"NUTS: target_accept: expected a number in (0, 1), got {self.target_accept}")
        if self.rhat_target is not None and not (
            math.isfinite(self.rhat_target) and self.rhat_target > 1.0 and self.most_draws >= self.samples
        ):
            raise InputError(
                f"NUTS: rhat_target, max_samples: expected > 1 and >= samples ({self.samples}), "
                f"got {self.rhat_target}, {self.most_draws}"
            )

    def budget(self) -> dict[str, Any]:
        """The NUTS fields alone, as keywords for :func:`inference.sampling.nuts.run_nuts` (a subclass such as
        a fit's settings carries more)."""
        return {f.name: getattr(self, f.name) for f in fields(NutsSettings)}

    @property
    def most_draws(self) -> int:
        """The most draws per chain a fit going on to its R-hat target may hold."""
        return 4 * self.samples if self.max_samples is None else self.max_samples
