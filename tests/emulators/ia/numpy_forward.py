"""An independent forward pass of an emulator artifact in numpy, from emulator.json + weights alone.

It reads nothing from torch modules: if it agrees with torch, the JSON holds all a port needs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file


def _act(x: np.ndarray, op: dict) -> np.ndarray:
    fn = op["fn"]
    if fn == "silu":
        return x / (1.0 + np.exp(-x))
    if fn == "leaky_relu":
        return np.where(x >= 0, x, op["negative_slope"] * x)
    if fn == "tanh":
        return np.tanh(x)
    if fn == "gelu":
        from scipy.special import erf

        return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))
    raise ValueError(fn)


def _conv1d(x: np.ndarray, w: np.ndarray, b: np.ndarray, padding: int, stride: int) -> np.ndarray:
    n, _, length = x.shape
    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    out_len = (length + 2 * padding - k) // stride + 1
    cols = np.stack([xp[:, :, i * stride : i * stride + k] for i in range(out_len)], axis=2)  # (N, Cin, L, K)
    return np.einsum("nclk,ock->nol", cols, w) + b[None, :, None]


def run_ops(x: np.ndarray, ops: list[dict], w: dict[str, np.ndarray]) -> np.ndarray:
    for op in ops:
        kind = op["op"]
        if kind == "linear":
            x = x @ w[op["weight"]].T + w[op["bias"]]
        elif kind == "conv1d":
            x = _conv1d(x, w[op["weight"]], w[op["bias"]], op["padding"], op["stride"])
        elif kind == "activation":
            x = _act(x, op)
        elif kind == "residual":
            x = x + run_ops(x, op["body"], w)
        elif kind == "layernorm":
            mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
            x = (x - mu) / np.sqrt(var + op["eps"]) * w[op["weight"]] + w[op["bias"]]
        elif kind == "groupnorm":
            assert op["groups"] == 1
            mu, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
            x = (x - mu) / np.sqrt(var + op["eps"]) * w[op["weight"]][:, None] + w[op["bias"]][:, None]
        elif kind == "batchnorm":
            shape = (1, -1) + (1,) * (x.ndim - 2)
            mean, var = w[op["running_mean"]].reshape(shape), w[op["running_var"]].reshape(shape)
            x = (x - mean) / np.sqrt(var + op["eps"]) * w[op["weight"]].reshape(shape) + w[
                op["bias"]
            ].reshape(shape)
        elif kind == "dropout":
            pass
        elif kind == "reshape":
            x = x.reshape(x.shape[0], *op["shape"])
        elif kind == "mean_variance":
            mean, raw = x[:, op["mean_channel"]], x[:, op["variance_channel"]]
            x = np.stack([mean, np.logaddexp(0.0, raw) + op["min_var"]], axis=1)
        else:
            raise ValueError(kind)
    return x


def artifact_passes(directory: Path, params: np.ndarray) -> np.ndarray:
    """Per-member (mean, single-realisation variance) in transformed space, (M, N, 2, S, B), float64."""
    doc = json.loads((Path(directory) / "emulator.json").read_text())
    weights = {
        k: v.astype(np.float64) for k, v in load_file(Path(directory) / doc["weights"]["file"]).items()
    }
    sc = doc["scalers"]
    lo, hi = np.asarray(sc["prior_lo"]), np.asarray(sc["prior_hi"])
    center, scale = np.asarray(sc["center"]), np.asarray(sc["scale"])
    x = 2.0 * (params - lo) / (hi - lo) - 1.0
    members = []
    for i in range(doc["ensemble"]["size"]):
        prefix = doc["ensemble"]["prefix"].format(i=i)
        w = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
        z = run_ops(x, doc["forward"]["encoder"], w)
        out = np.stack([run_ops(z, dec, w) for dec in doc["forward"]["decoders"]], axis=2)  # (N, 2, S, B)
        members.append(np.stack([out[:, 0] * scale + center, out[:, 1] * scale**2], axis=1))
    return np.stack(members)
