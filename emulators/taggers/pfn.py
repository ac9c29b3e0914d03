"""The non-equivariant baseline: a Particle Flow Network (Komiske, Metodiev, Thaler 2019).

Per-particle features relative to the jet axis (the ParticleNet set: log pT, log E, log pT/pT_jet,
log E/E_jet, Δη, Δφ, ΔR), a shared network Φ, a masked sum over particles (divided by a constant, so zero
padding changes nothing), and a network F on the sum. Δη and Δφ make it invariant under rotations about
the beam and boosts along it, but not under general Lorentz transformations.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

N_FEATURES = 7


@dataclass(frozen=True)
class PFNConfig:
    """Hyper-parameters; `hidden` = 232 gives about the LorentzNet default's parameter count."""

    hidden: int = 232
    latent: int = 232
    dropout: float = 0.1
    agg_norm: float = 32.0

    def to_dict(self) -> dict:
        return asdict(self)


def _kinematics(p: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """log pT, log E, η, φ of four-vectors (..., 4) = (E, px, py, pz) in GeV (entries must be non-zero)."""
    pt = torch.hypot(p[..., 1], p[..., 2])
    eta = torch.asinh(p[..., 3] / pt)
    phi = torch.atan2(p[..., 2], p[..., 1])
    return torch.log(pt), torch.log(p[..., 0]), eta, phi


def particle_features(p: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The 7 per-particle features (B, N, 7); padded entries are exactly zero."""
    valid = mask.bool()
    dummy = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=p.dtype, device=p.device)  # keeps logs finite
    safe = torch.where(valid[..., None], p, dummy)
    jet = (p * valid[..., None].to(p.dtype)).sum(1)
    log_pt, log_e, eta, phi = _kinematics(safe)
    jlog_pt, jlog_e, jeta, jphi = (t[:, None] for t in _kinematics(jet))
    deta = eta - jeta
    dphi = torch.remainder(phi - jphi + math.pi, 2 * math.pi) - math.pi
    feats = torch.stack(
        [log_pt, log_e, log_pt - jlog_pt, log_e - jlog_e, deta, dphi, torch.hypot(deta, dphi)], -1
    )
    return feats * valid[..., None].to(p.dtype)


class PFN(nn.Module):
    """Binary top tagger: `forward(p, mask)` with p (B, N, 4) (E, px, py, pz) in GeV returns logits (B,)."""

    CPU_BF16 = False  # small dense layers: float32 on CPU

    def __init__(self, config: PFNConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or PFNConfig()
        h, z = config.hidden, config.latent
        self.phi = nn.Sequential(nn.Linear(N_FEATURES, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                                 nn.Linear(h, z), nn.ReLU())
        self.f = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(h, h),
                               nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(h, 1))

    def forward(self, p: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        feats = particle_features(p, mask)
        weight = mask.to(feats.dtype)[..., None]
        latent = (self.phi(feats) * weight).sum(1) / self.config.agg_norm
        return self.f(latent)[:, 0]
