"""The IA emulator network: a residual MLP encoder shared by one 1-D conv decoder per statistic.

Input: the P parameters scaled to [-1, 1] over the prior box. Output: (batch, 2, S, B), channel 0 the mean
and channel 1 the variance of one realisation (softplus + ``min_var``), in the scaled target space of
:class:`emulators.ia.data.Scalers`, for S statistics (log ξ, ω, η) and B radial bins.

Changes from IAEmu (docs/ARCHITECTURE.md 4.3), each a config choice: any number of bins (the decoders are
length-preserving convolutions on a (channels, B) map, closed by a kernel-1 conv to mean and variance, not
IAEmu's 700-wide map with a stride-5 conv that fixes B = 20); LayerNorm (GroupNorm(1, C) in the decoders)
instead of BatchNorm by default, so a prediction does not depend on the batch statistics of training; SiLU
instead of LeakyReLU; no dropout unless MC dropout is chosen (a deep ensemble supplies the epistemic part).

:meth:`IAEmuNet.forward_spec` describes the forward pass as a list of simple ops naming the state-dict
tensors, written into the artifact so that a port (the JAX one in ``inference``) can rebuild it exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {"silu": nn.SiLU, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh}


@dataclass
class ModelConfig:
    """Architecture of one network (widths in units, conv channels per layer)."""

    n_params: int = 7
    n_bins: int = 20
    n_stats: int = 3
    hidden: int = 128
    n_blocks: int = 3
    latent: int = 128
    dec_channels: list[int] = field(default_factory=lambda: [16, 32, 32])
    kernel: int = 3
    activation: str = "silu"
    norm: str = "layer"  # "layer" | "batch" | "none"
    dropout: float = 0.0
    min_var: float = 1e-6

    def to_dict(self) -> dict:
        return asdict(self)


def _act(cfg: ModelConfig) -> nn.Module:
    return ACTIVATIONS[cfg.activation]()


def _norm(cfg: ModelConfig, width: int, conv: bool) -> nn.Module:
    if cfg.norm == "batch":
        return nn.BatchNorm1d(width)
    if cfg.norm == "layer":
        return nn.GroupNorm(1, width) if conv else nn.LayerNorm(width)
    return nn.Identity()


def _spec(module: nn.Module, name: str) -> list[dict]:
    """The ops of one leaf module (empty for identities; dropout is kept for MC dropout)."""
    p = f"{name}." if name else ""
    if isinstance(module, nn.Linear):
        return [{"op": "linear", "weight": p + "weight", "bias": p + "bias"}]
    if isinstance(module, nn.Conv1d):
        return [{"op": "conv1d", "weight": p + "weight", "bias": p + "bias", "stride": module.stride[0],
                 "padding": module.padding[0], "kernel": module.kernel_size[0],
                 "layout": "weight (C_out, C_in, K); input (N, C_in, L); zero padding both sides"}]
    if isinstance(module, nn.LayerNorm):
        return [{"op": "layernorm", "weight": p + "weight", "bias": p + "bias", "eps": module.eps,
                 "axes": "last"}]
    if isinstance(module, nn.GroupNorm):
        return [{"op": "groupnorm", "groups": module.num_groups, "weight": p + "weight", "bias": p + "bias",
                 "eps": module.eps, "axes": "all but batch; affine per channel (axis 1)"}]
    if isinstance(module, nn.BatchNorm1d):
        return [{"op": "batchnorm", "weight": p + "weight", "bias": p + "bias",
                 "running_mean": p + "running_mean", "running_var": p + "running_var",
                 "eps": module.eps, "axis": 1, "mode": "eval"}]
    if isinstance(module, nn.Dropout):
        return [{"op": "dropout", "p": module.p}] if module.p > 0 else []
    if isinstance(module, nn.LeakyReLU):
        return [{"op": "activation", "fn": "leaky_relu", "negative_slope": module.negative_slope}]
    for fn, cls in ACTIVATIONS.items():
        if type(module) is cls:
            extra = {"approximate": module.approximate} if isinstance(module, nn.GELU) else {}
            return [{"op": "activation", "fn": fn, **extra}]
    if isinstance(module, nn.Identity):
        return []
    raise TypeError(f"no forward spec for {type(module).__name__}")


class Residual(nn.Sequential):
    """x + body(x), with body a sequence of layers that keeps the shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


def _children_spec(module: nn.Sequential, name: str) -> list[dict]:
    return [op for i, child in enumerate(module) for op in _spec_tree(child, f"{name}.{i}")]


def _spec_tree(module: nn.Module, name: str) -> list[dict]:
    if isinstance(module, Residual):
        return [{"op": "residual", "body": _children_spec(module, name)}]
    if isinstance(module, nn.Sequential):
        return _children_spec(module, name)
    return _spec(module, name)


def _block(cfg: ModelConfig, linear: nn.Module, width: int, conv: bool) -> list[nn.Module]:
    layers = [linear, _norm(cfg, width, conv), _act(cfg)]
    return layers + ([nn.Dropout(cfg.dropout)] if cfg.dropout > 0 else [])


class Decoder(nn.Module):
    """latent -> (C0, B) map -> length-preserving conv blocks -> (2, B): mean and softplus variance."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        c0 = cfg.dec_channels[0]
        self.shape = (c0, cfg.n_bins)
        width = c0 * cfg.n_bins
        self.lift = nn.Sequential(*_block(cfg, nn.Linear(cfg.latent, width), width, False))
        layers: list[nn.Module] = []
        for c_in, c_out in zip(cfg.dec_channels[:-1], cfg.dec_channels[1:], strict=True):
            conv = nn.Conv1d(c_in, c_out, cfg.kernel, padding=cfg.kernel // 2)
            block = _block(cfg, conv, c_out, True)
            layers.append(Residual(*block) if c_in == c_out else nn.Sequential(*block))
        self.convs = nn.Sequential(*layers)
        self.head = nn.Conv1d(cfg.dec_channels[-1], 2, 1)
        self.min_var = cfg.min_var

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.lift(z).view(z.shape[0], *self.shape)
        out = self.head(self.convs(h))
        return torch.stack([out[:, 0], F.softplus(out[:, 1]) + self.min_var], dim=1)

    def forward_spec(self, name: str) -> list[dict]:
        return (_spec_tree(self.lift, f"{name}.lift") + [{"op": "reshape", "shape": list(self.shape)}]
                + _spec_tree(self.convs, f"{name}.convs") + _spec(self.head, f"{name}.head")
                + [{"op": "mean_variance", "mean_channel": 0, "variance_channel": 1,
                    "variance": "softplus(x) + min_var", "min_var": self.min_var}])


class IAEmuNet(nn.Module):
    """One member: encoder (stem, residual blocks, projection) shared by S decoders."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        blocks = [Residual(*_block(cfg, nn.Linear(cfg.hidden, cfg.hidden), cfg.hidden, False))
                  for _ in range(cfg.n_blocks)]
        self.encoder = nn.Sequential(nn.Linear(cfg.n_params, cfg.hidden), _act(cfg), *blocks,
                                     nn.Linear(cfg.hidden, cfg.latent), _act(cfg))
        self.decoders = nn.ModuleList(Decoder(cfg) for _ in range(cfg.n_stats))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, P) scaled inputs -> (batch, 2, S, B): mean and single-realisation variance."""
        z = self.encoder(x)
        return torch.stack([dec(z) for dec in self.decoders], dim=2)

    def forward_spec(self) -> dict:
        """Ops of the forward pass; tensor names relative to this member's state dict."""
        return {"encoder": _spec_tree(self.encoder, "encoder"),
                "decoders": [dec.forward_spec(f"decoders.{s}") for s, dec in enumerate(self.decoders)],
                "output": "stack decoder outputs (N, 2, B) on a new axis 2 -> (N, 2, S, B)"}


class Ensemble(nn.Module):
    """M members registered as ``member0``, ``member1``, ...; forward gives (M, batch, 2, S, B)."""

    def __init__(self, cfg: ModelConfig, members: list[IAEmuNet]) -> None:
        super().__init__()
        self.cfg = cfg
        for i, net in enumerate(members):
            self.add_module(f"member{i}", net)

    @property
    def members(self) -> list[IAEmuNet]:
        return list(self.children())  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x) for net in self.members])
