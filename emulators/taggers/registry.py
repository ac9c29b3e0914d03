"""The taggers' common interface: build by name, save and load a tagger directory, predict scores.

Every tagger is a `torch.nn.Module` with `forward(p, mask) -> logits`, p (B, N, 4) = (E, px, py, pz) in GeV
(zero rows where `mask` (B, N) is False). A tagger directory holds

    tagger.json          {"model": name, "config": {...}, "input": ..., "params": n, "weights_sha256": hex,
                          "training": {...}}
    weights.safetensors  the state dict

and is written atomically. Loading checks tagger.json's schema (model name, config keys and types) and the
weights' sha256 before reading them, so a truncated or altered file is named, never half-loaded.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from common.atomic import atomic_directory
from common.errors import InputError
from common.hashing import hash_files
from emulators.artifact_files import TAGGER_JSON, WEIGHTS
from emulators.taggers.lgatr_tagger import LGATrConfig, LGATrTagger
from emulators.taggers.lorentznet import LorentzNet, LorentzNetConfig
from emulators.taggers.pfn import PFN, PFNConfig

MODELS: dict[str, tuple[type[nn.Module], type]] = {
    "lorentznet": (LorentzNet, LorentzNetConfig),
    "lgatr": (LGATrTagger, LGATrConfig),
    "pfn": (PFN, PFNConfig),
}


def _valid_setting(value: Any, default: Any) -> bool:
    """Whether `value` may replace a config field whose default is `default` (same kind of value)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, int):
        return isinstance(value, int) and value >= 1
    if isinstance(default, float):
        return isinstance(value, (int, float)) and math.isfinite(value) and value >= 0 and (
            value < 1 or default >= 1)  # rates such as dropout stay below 1
    if isinstance(default, tuple):
        return isinstance(value, (list, tuple)) and all(isinstance(v, type(default[0]) if default else str)
                                                         for v in value)
    return value is None or isinstance(value, (list, tuple))  # optional fields: None or a list (a metric)


def make_config(name: str, overrides: dict[str, Any] | None = None, where: str = "model") -> Any:
    """The config dataclass of model `name` with `overrides` (lists become tuples; unknown keys and values
    of the wrong kind, e.g. a non-positive width, are refused). `where` names the source in messages."""
    if name not in MODELS:
        raise InputError(f"{where}: expected one of {', '.join(MODELS)}, got {name!r}")
    cls = MODELS[name][1]
    defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(defaults)
    if unknown:
        raise InputError(f"{where}: {name} config: unknown keys {sorted(unknown)}; expected some of "
                         f"{sorted(defaults)}")
    for key, value in overrides.items():
        if not _valid_setting(value, defaults[key]):
            raise InputError(f"{where}: {name} config: {key}: expected a value like {defaults[key]!r} "
                             f"(positive where a size), got {value!r}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})


def build_tagger(name: str, overrides: dict[str, Any] | None = None, where: str = "model") -> nn.Module:
    """A freshly initialised tagger `name` ('lorentznet', 'lgatr' or 'pfn') with config `overrides`."""
    config = make_config(name, overrides, where)
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
        meta["weights_sha256"] = hash_files(tmp / WEIGHTS)
        (tmp / TAGGER_JSON).write_text(json.dumps(meta, indent=2) + "\n")
    return Path(directory)


def trained_constituents(meta: dict[str, Any]) -> Any:
    """The leading constituents per jet a tagger was trained on (tagger.json `training.max_particles`; 200,
    the readers' default, for taggers that predate it); `load_tagger` checks it is a positive integer."""
    training = meta.get("training", {})
    return training.get("max_particles", 200) if isinstance(training, dict) else None


def load_tagger(directory: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The tagger saved in `directory` (in eval mode, on the CPU) and its tagger.json contents."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    cfg_path = directory / TAGGER_JSON
    if not cfg_path.is_file() or not (directory / WEIGHTS).is_file():
        raise InputError(f"{directory}: not a tagger directory (expected {TAGGER_JSON} and {WEIGHTS})")
    try:
        meta = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{cfg_path}: not JSON ({err})") from err
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise InputError(f"{cfg_path}: config: expected an object with 'model' and a 'config' object")
    model = build_tagger(meta.get("model"), meta["config"], where=f"{cfg_path}: model")
    particles = trained_constituents(meta)
    if not isinstance(particles, int) or isinstance(particles, bool) or particles < 1:
        raise InputError(f"{cfg_path}: training.max_particles: expected a positive integer, "
                         f"got {particles!r}")
    expected = meta.get("weights_sha256")  # absent in taggers written before checksums
    if expected is not None and hash_files(directory / WEIGHTS) != expected:
        raise InputError(f"{directory / WEIGHTS}: sha256 differs from tagger.json's weights_sha256 "
                         "(a truncated or altered file)")
    try:
        model.load_state_dict(load_file(str(directory / WEIGHTS)))
    except (RuntimeError, OSError, SafetensorError) as err:
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
