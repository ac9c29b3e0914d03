"""A LorentzNet-style tagger (Gong et al. 2022) in a dense, batched, masked formulation.

Every jet is a padded set of four-momenta p (B, N, 4) = (E, px, py, pz) in GeV with a mask (B, N). The
momenta are divided by a global constant `momentum_scale` (GeV) -- a Lorentz-invariant normalisation --
and every Minkowski product a enters the networks as psi(a) = sign(a) log(1 + |a|). Each layer (LGEB)
builds edge messages from the node scalars and the invariants psi(x_i·x_j), psi(|x_i - x_j|²), updates the
scalars with a gated sum of messages, and moves the coordinates equivariantly,
x_i += c Σ_j (x_i - x_j) tanh(φ_x(m_ij)) / norm. The readout sums the particle scalars. Without
reference vectors the score is exactly Lorentz invariant; `references=("beam",)` and/or ("time",) appends
fixed vectors as extra nodes, the only way symmetry is broken (docs/ARCHITECTURE.md 4.6).

An optional `metric`, a symmetric 4×4 matrix A (16 numbers, row-major), replaces every Minkowski product by
x_iᵀ A x_j (LieGAN's "LieGNN", with the form discovered by `emulators.taggers.symmetry`); the score is then
invariant under the g with gᵀ A g = A instead. Without one, the Minkowski code path runs unchanged.

Pairs are dense (B, N, N) tensors rather than edge lists: the first edge layer is split into per-node
terms that are broadcast, and Minkowski products are formed outside autocast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from common.errors import InputError
from emulators.taggers.lorentz import check_references, minkowski_dot, pairwise_dots, psi, reference_vectors


@dataclass(frozen=True)
class LorentzNetConfig:
    """Hyper-parameters; the defaults follow the published LorentzNet top tagger (6 layers, 72 wide)."""

    hidden: int = 72
    layers: int = 6
    c_weight: float = 1e-3
    dropout: float = 0.2
    momentum_scale: float = 100.0  # GeV; momenta are divided by it before any product
    agg_norm: float = 32.0  # sums over neighbours and over the jet are divided by it (padding-invariant)
    references: tuple[str, ...] = ()
    metric: tuple[float, ...] | None = None  # a symmetric 4×4 A, row-major, in place of diag(1, -1, -1, -1)

    def __post_init__(self) -> None:
        check_references(self.references, "lorentznet config")
        if self.metric is None:
            return
        a = self.metric
        if len(a) != 16 or not all(math.isfinite(v) for v in a) or any(
                abs(a[4 * i + j] - a[4 * j + i]) > 1e-9 for i in range(4) for j in range(i)):
            raise InputError(f"lorentznet config: metric: expected 16 finite numbers, a symmetric 4×4 matrix "
                             f"row-major, got {list(a)}")

    def to_dict(self) -> dict:
        return asdict(self)


N_KINDS = 3  # node kinds: particle, beam, time


def metric_dot(a: torch.Tensor, b: torch.Tensor, metric: torch.Tensor | None) -> torch.Tensor:
    """aᵀ A b over the last axis (broadcasting the others); the Minkowski product when `metric` is None."""
    if metric is None:
        return minkowski_dot(a, b)
    return ((a @ metric.to(a.dtype)) * b).sum(-1)


def metric_pairwise(x: torch.Tensor, metric: torch.Tensor | None) -> torch.Tensor:
    """All products x_iᵀ A x_j, (B, N, 4) -> (B, N, N), in at least float32 and outside autocast, as
    `pairwise_dots` (which it is when `metric` is None)."""
    if metric is None:
        return pairwise_dots(x)
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    with torch.autocast(device_type=x.device.type, enabled=False):
        return (work @ metric.to(work.dtype)) @ work.transpose(-1, -2)


def _mlp(sizes: list[int], act_last: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or act_last:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class LGEB(nn.Module):
    """One Lorentz group equivariant block on dense sets: scalars h (B, N, H), coordinates x (B, N, 4)."""

    def __init__(self, hidden: int, c_weight: float, agg_norm: float, update_x: bool) -> None:
        super().__init__()
        self.e_i, self.e_j = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden, bias=False)
        self.e_inv = nn.Linear(2, hidden, bias=False)
        self.e_out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.gate = nn.Linear(hidden, 1)
        self.phi_h = _mlp([2 * hidden, hidden, hidden])
        self.phi_x = _mlp([hidden, hidden, 1]) if update_x else None
        self.c_weight, self.agg_norm = c_weight, agg_norm

    def forward(self, h: torch.Tensor, x: torch.Tensor, edge_mask: torch.Tensor,
                metric: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        dots = metric_pairwise(x, metric)
        sq = torch.diagonal(dots, dim1=-2, dim2=-1)
        dist = sq[:, :, None] + sq[:, None, :] - 2 * dots
        inv = torch.stack([psi(dots), psi(dist)], -1).to(h.dtype)
        m = self.e_out(self.e_i(h)[:, :, None] + self.e_j(h)[:, None, :] + self.e_inv(inv))
        weight = torch.sigmoid(self.gate(m)[..., 0]) * edge_mask.to(m.dtype)  # masked edges weigh 0
        agg = torch.einsum("bijh,bij->bih", m, weight) / self.agg_norm
        h = h + self.phi_h(torch.cat([h, agg], -1))
        if self.phi_x is not None:
            coef = torch.tanh(self.phi_x(m)[..., 0]).to(dots.dtype) * edge_mask.to(dots.dtype)
            with torch.autocast(device_type=x.device.type, enabled=False):
                xw = x.to(dots.dtype)
                shift = coef.sum(-1, keepdim=True) * xw - coef @ xw
                x = (xw + self.c_weight * shift / self.agg_norm).to(x.dtype)
        return h, x


class LorentzNet(nn.Module):
    """Binary top tagger: `forward(p, mask)` with p (B, N, 4) (E, px, py, pz) in GeV returns logits (B,)."""

    # bf16 autocast on a CPU with native bf16: 2.1× the float32 training speed at the published size
    CPU_BF16 = True  # (docs/ARCHITECTURE.md 4.6)

    def __init__(self, config: LorentzNetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or LorentzNetConfig()
        refs, codes = reference_vectors(config.references)
        self.register_buffer("refs", refs, persistent=False)
        self.register_buffer("ref_kinds", torch.tensor(codes, dtype=torch.long), persistent=False)
        metric = None if config.metric is None else torch.tensor(config.metric, dtype=torch.float64)
        self.register_buffer("metric", None if metric is None else metric.reshape(4, 4), persistent=False)
        self.embed = nn.Linear(3 + N_KINDS, config.hidden)
        self.blocks = nn.ModuleList(
            LGEB(config.hidden, config.c_weight, config.agg_norm, update_x=i < config.layers - 1)
            for i in range(config.layers)
        )
        self.head = nn.Sequential(
            nn.Linear(config.hidden, config.hidden), nn.SiLU(), nn.Dropout(config.dropout),
            nn.Linear(config.hidden, 1),
        )

    def _nodes(self, p: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Scaled coordinates, node mask and node kinds, with the reference vectors appended as nodes."""
        x = p / self.config.momentum_scale
        kind = torch.zeros(mask.shape, dtype=torch.long, device=p.device)
        if len(self.refs):
            b, r = p.shape[0], len(self.refs)
            x = torch.cat([x, self.refs.to(x.dtype).expand(b, r, 4)], 1)
            mask = torch.cat([mask, torch.ones(b, r, dtype=torch.bool, device=p.device)], 1)
            kind = torch.cat([kind, self.ref_kinds.expand(b, r)], 1)
        return x, mask, kind

    def forward(self, p: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.bool()
        particles = mask.to(p.dtype)
        jet = (p * particles[..., None]).sum(1, keepdim=True) / self.config.momentum_scale
        x, node_mask, kind = self._nodes(p, mask)
        jet_sq = metric_dot(jet, jet, self.metric).expand(x.shape[:2])
        scalars = torch.stack([psi(metric_dot(x, x, self.metric)), psi(metric_dot(x, jet, self.metric)),
                               psi(jet_sq)], -1)
        onehot = nn.functional.one_hot(kind, N_KINDS).to(p.dtype)
        h = self.embed(torch.cat([scalars, onehot], -1) * node_mask[..., None].to(p.dtype))
        n = x.shape[1]
        eye = torch.eye(n, dtype=torch.bool, device=p.device)
        edge_mask = node_mask[:, :, None] & node_mask[:, None, :] & ~eye
        for block in self.blocks:
            h, x = block(h, x, edge_mask, self.metric)
        pooled = (h[:, : p.shape[1]] * particles[..., None].to(h.dtype)).sum(1) / self.config.agg_norm
        return self.head(pooled)[:, 0]
