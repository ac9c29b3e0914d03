"""The emulator artifact (docs/ARCHITECTURE.md 3.2): ``emulator.json`` + ``weights.safetensors``, written and
read back.

``weights.safetensors`` holds every member's tensors under their torch state-dict names
(``member0.encoder.0.weight``, ...; BatchNorm running statistics included when BatchNorm is used), stored
in float16 (:data:`STORAGE_DTYPE`, half the float32 size) and computed in float32: training rounds the
network to float16 values (:func:`round_to_storage`), so the emulator that is measured and the one that is
read back are the same, bit for bit.
``emulator.json`` holds what a port needs to rebuild the forward pass without torch:

- ``forward``: one member's ops in order (``linear``: y = x W^T + b; ``conv1d``; ``layernorm``;
  ``groupnorm``; ``batchnorm`` in eval mode; ``activation``; ``residual``: x + body(x); ``reshape``;
  ``dropout``: identity unless MC dropout; ``mean_variance``), tensor names relative to ``member{i}.``;
- ``scalers``: inputs ``x = 2 (p - prior_lo) / (prior_hi - prior_lo) - 1``; outputs per statistic and bin
  ``t = center + scale * mean``, ``var_t = scale^2 * var``, then ``xi = exp(t)`` (see
  :mod:`emulators.ia.emulator` for the variance transform);
- param_names, prior box, r bins (Mpc/h), statistics, ensemble size and epistemic mode, realisations per
  training row, training-data SHA-256, training record and test metrics;
- ``noise``: the correlation of one realisation's noise across bins and statistics (:mod:`emulators.ia.noise`,
  estimated on the training rows; null when not estimated);
- ``emulator_error``: the covariance of the emulator's error beyond its own variances, measured on
  independent mocks (:mod:`emulators.ia.error`; null until measured).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from common.errors import InputError
from common.hashing import hash_files
from emulators.artifact_files import EMULATOR_JSON, WEIGHTS
from emulators.ia.artifact_schema import FORMAT, FORMAT_VERSION, read_emulator_json
from emulators.ia.data import LOG_STATISTICS, STATISTICS, Scalers
from emulators.ia.emulator import TorchEmulator
from emulators.ia.network import Ensemble, IAEmuNet, ModelConfig


def artifact_dict(emulator: TorchEmulator) -> dict:
    """The content of ``emulator.json`` (without the weights' hash)."""
    members = emulator.net.members
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "statistics": list(STATISTICS),
        "transforms": {s: ("log" if s in LOG_STATISTICS else "identity") for s in STATISTICS},
        "param_names": emulator.param_names,
        "prior": {"lo": emulator.scalers.prior_lo.tolist(), "hi": emulator.scalers.prior_hi.tolist()},
        "r": np.asarray(emulator.r).tolist(),
        "r_edges": np.asarray(emulator.r_edges).tolist(),
        "length_unit": "Mpc/h (comoving)",
        "scalers": {**emulator.scalers.to_dict(),
                    "inputs": "x = 2 (p - prior_lo) / (prior_hi - prior_lo) - 1",
                    "outputs": "t = center + scale * mean; var_t = scale^2 * var; shapes (S, B)"},
        "architecture": emulator.net.cfg.to_dict(),
        "forward": members[0].forward_spec(),
        "ensemble": {"size": len(members), "prefix": "member{i}.", "epistemic": emulator.epistemic,
                     "mc_samples": emulator.mc_samples},
        "variance": {
            "network_output": "variance of one realisation, scaled space",
            "n_realisations": emulator.n_real,
            "aleatoric": "avg over passes of var_t / n (variance of the mean of n realisations)",
            "epistemic": "variance over passes (ddof 0) of the mean t",
            "log_statistics": "E = exp(t_mean + (avg var_t / n_realisations + epistemic_t) / 2); "
                              "each part's Var = (exp(part_t) - 1) * E^2 (log-normal moments)",
        },
        "noise": emulator.noise,
        "emulator_error": emulator.error,
        "training": emulator.meta,
        "test_metrics": emulator.meta.get("test_metrics"),
    }


STORAGE_DTYPE = torch.float16  # of the stored tensors; the network computes in float32


def round_to_storage(net: torch.nn.Module) -> None:
    """Round every floating tensor of ``net`` (parameters and buffers) in place to the nearest value that
    :data:`STORAGE_DTYPE` holds. On the shipped emulator's test rows this moved ξ's mean by 1.1e-4 relative
    (median; at most 8.8e-4) and ω's by at most 9e-5, against an emulator error of about 2.5%."""
    with torch.no_grad():
        for tensor in net.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.to(STORAGE_DTYPE).to(tensor.dtype))


def write_artifact(emulator: TorchEmulator, directory: str | os.PathLike[str]) -> None:
    """Write ``emulator.json`` and ``weights.safetensors`` into an existing directory. The network is first
    rounded in place to storage values (:func:`round_to_storage`; a no-op after training), so the emulator
    in memory and the one read back stay the same."""
    directory = Path(directory)
    round_to_storage(emulator.net)
    state = {name: (t.to(STORAGE_DTYPE) if t.is_floating_point() else t).detach().cpu().contiguous()
             for name, t in emulator.net.state_dict().items()}
    save_file(state, directory / WEIGHTS)
    doc = artifact_dict(emulator)
    digest = hash_files(directory / WEIGHTS)
    doc["weights"] = {"file": WEIGHTS, "sha256": digest, "dtype": str(STORAGE_DTYPE).removeprefix("torch.")}
    (directory / EMULATOR_JSON).write_text(json.dumps(doc, indent=1))


def read_json(directory: str | os.PathLike[str]) -> dict:
    """``emulator.json`` of an artifact, checked against its schema
    (:func:`emulators.ia.artifact_schema.read_emulator_json`)."""
    return read_emulator_json(directory)


def _network(doc: dict, weights: Path) -> Ensemble:
    """The ensemble of ``doc``'s architecture with the tensors of ``weights``; InputError naming the file
    and the key when they do not fit together."""
    try:
        cfg = ModelConfig(**doc["architecture"])
        net = Ensemble(cfg, [IAEmuNet(cfg) for _ in range(doc["ensemble"]["size"])])
    except (TypeError, ValueError, KeyError) as err:
        raise InputError(f"{Path(weights).parent / EMULATOR_JSON}: architecture: cannot build the network "
                         f"({type(err).__name__}: {err})") from None
    try:
        net.load_state_dict(load_file(weights), strict=True)
    except (RuntimeError, OSError) as err:  # missing, unexpected or misshapen tensors; a torn file
        first = " ".join(str(err).split())[:200]
        raise InputError(f"{weights}: tensors do not match {EMULATOR_JSON}'s architecture "
                         f"({first})") from None
    return net


def load_emulator(directory: str | os.PathLike[str], device: str | torch.device = "cpu") -> TorchEmulator:
    """Rebuild the emulator of an artifact in torch (same predictions, bit for bit, on the same device)."""
    doc = read_json(directory)
    weights = Path(directory) / WEIGHTS
    if not weights.is_file() or hash_files(weights) != doc["weights"]["sha256"]:
        raise InputError(f"{weights}: missing or not the weights {EMULATOR_JSON} was written with")
    net = _network(doc, weights)
    net.to(device).eval()
    return TorchEmulator(net, Scalers.from_dict(doc["scalers"]), list(doc["param_names"]),
                         np.asarray(doc["r"]), np.asarray(doc["r_edges"]),
                         int(doc["variance"]["n_realisations"]), doc["ensemble"]["epistemic"],
                         int(doc["ensemble"]["mc_samples"]), doc.get("training") or {}, doc.get("noise"),
                         doc.get("emulator_error"))
