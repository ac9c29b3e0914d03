"""The taggers' common interface: build by name, save and load a tagger directory, predict scores.

Every tagger is a `torch.nn.Module` with `forward(p, mask) -> logits`, p (B, N, 4) = (E, px, py, pz) in GeV
(zero rows where `mask` (B, N) is False). A tagger directory holds

    tagger.json          {"model": name, "config": {...}, "input": ..., "params": n, "training": {...}}
    weights.safetensors  the state dict

and is written atomically.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from common.atomic import atomic_directory
from common.errors import InputError
from emulators.artifact_files import TAGGER_JSON, WEIGHTS
from emulators.taggers.lgatr_tagger import LGATrConfig, LGATrTagger
from emulators.taggers.lorentznet import LorentzNet, LorentzNetConfig
from emulators.taggers.pfn import PFN, PFNConfig

MODELS: dict[str, tuple[type[nn.Module], type]] = {
    "lorentznet": (LorentzNet, LorentzNetConfig),
    "lgatr": (LGATrTagger, LGATrConfig),
    "pfn": (PFN, PFNConfig),
}


def make_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The config dataclass of model `name` with `overrides` (lists become tuples, unknown keys refused)."""
    if name not in MODELS:
        raise InputError(f"--model: expected one of {', '.join(MODELS)}, got {name!r}")
    cls = MODELS[name][1]
    known = {f.name for f in fields(cls)}
    overrides = dict(overrides or {})
    unknown = set(overrides) - known
    if unknown:
        raise InputError(f"{name} config: unknown keys {sorted(unknown)}; expected some of {sorted(known)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})


def build_tagger(name: str, overrides: dict[str, Any] | None = None) -> nn.Module:
    """A freshly initialised tagger `name` ('lorentznet', 'lgatr' or 'pfn') with config `overrides`."""
    config = make_config(name, overrides)
    return MODELS[name][0](config)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def save_tagger(model: nn.Module, name: str, directory: str | Path, extra: dict[str, Any] | None = None
                ) -> Path:
    """Write `model` (of kind `name`) to `directory` atomically; `extra` goes into tagger.json."""
    from safetensors.torch import save_file

    meta = {"model": name, "config": model.config.to_dict(), "params": count_parameters(model),
            "input": {"layout": "(E, px, py, pz)", "units": "GeV"}, **(extra or {})}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_directory(directory) as tmp:
        save_file(state, str(tmp / WEIGHTS))
        (tmp / TAGGER_JSON).write_text(json.dumps(meta, indent=2) + "\n")
    return Path(directory)


def load_tagger(directory: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The tagger saved in `directory` (in eval mode, on the CPU) and its tagger.json contents."""
    from safetensors.torch import load_file

    directory = Path(directory)
    cfg_path = directory / TAGGER_JSON
    if not cfg_path.is_file() or not (directory / WEIGHTS).is_file():
        raise InputError(f"{directory}: not a tagger directory (expected {TAGGER_JSON} and {WEIGHTS})")
    try:
        meta = json.loads(cfg_path.read_text())
        model = build_tagger(meta["model"], meta["config"])
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise InputError(f"{cfg_path}: unreadable tagger config ({err})") from err
    try:
        model.load_state_dict(load_file(str(directory / WEIGHTS)))
    except (RuntimeError, OSError) as err:
        raise InputError(f"{directory / WEIGHTS}: weights do not match the config ({err})") from err
    return model.eval(), meta


def trim_padding(p: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the trailing constituent slots that are padding in every jet of the batch (a pure speed-up)."""
    used = mask.any(0).nonzero()
    width = int(used.max()) + 1 if len(used) else 1
    return p[:, :width], mask[:, :width]


@torch.no_grad()
def predict_logits(model: nn.Module, p: np.ndarray | torch.Tensor, mask: np.ndarray | torch.Tensor,
                   *, batch_size: int = 256, device: str | torch.device = "cpu") -> np.ndarray:
    """Logits (N,) of `model` for jets p (N, C, 4) (E, px, py, pz) in GeV with mask (N, C)."""
    model = model.eval().to(device)
    dtype = next(model.parameters()).dtype
    p, mask = torch.as_tensor(p), torch.as_tensor(mask).bool()
    order = torch.argsort(mask.sum(1), stable=True)  # similar multiplicities share a batch: less padding
    out = torch.zeros(len(p), dtype=torch.float32)
    for start in range(0, len(p), batch_size):
        idx = order[start:start + batch_size]
        pb, mb = trim_padding(p[idx], mask[idx])
        out[idx] = model(pb.to(device, dtype), mb.to(device)).float().cpu()
    return out.numpy()


def predict_scores(model: nn.Module, p: np.ndarray | torch.Tensor, mask: np.ndarray | torch.Tensor,
                   *, batch_size: int = 256, device: str | torch.device = "cpu") -> np.ndarray:
    """Top-tag scores in [0, 1] (sigmoid of the logits), (N,)."""
    logits = predict_logits(model, p, mask, batch_size=batch_size, device=device)
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
