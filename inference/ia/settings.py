"""The IA fits' NUTS budget: the generic :class:`~inference.sampling.settings.NutsSettings` with the
defaults the IA posteriors need (docs/ARCHITECTURE.md 4.4), shared by ``iaemu fit`` and ``iaemu validate``."""

from __future__ import annotations

from dataclasses import dataclass

from inference.sampling.settings import DEFAULT_RHAT_TARGET, ChainMethod, NutsSettings


@dataclass
class IANutsSettings(NutsSettings):
    """NUTS as the IA fits run it; only the defaults differ from :class:`NutsSettings`."""

    target_accept: float = 0.9  # at 0.8 one held-out injection diverged 443 times in 5000 draws
    dense_mass: bool = True  # log Mmin, log M0 and log M1 trade against each other
    chain_method: ChainMethod = "sequential"  # on a CPU a batched gradient costs the sum of single ones
    rhat_target: float | None = DEFAULT_RHAT_TARGET
