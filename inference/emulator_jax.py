"""The IA emulator's forward pass in JAX, rebuilt from its artifact alone (DESIGN.md 3.2; no torch).

Usage::

    emu = load_jax_emulator("emu/")               # emulator.json + weights.safetensors
    pred = emu.predict(theta)                     # theta (P,) physical units -> Prediction of (S, B) arrays
    preds = emu.predict_batch(thetas)             # (N, P) -> Prediction of (N, S, B) arrays, jitted

The ops listed in ``emulator.json["forward"]`` are interpreted in ``jax.numpy`` in float32 (like torch),
once per ensemble member (members vmapped over their stacked weights), then reduced as
:func:`emulators.ensemble.combine` does, in physical units: per-pass means ``mu_k`` and single-realisation
variances ``v_k`` in the transformed space (log ξ, ω, η) give ``mean_t = avg mu_k``,
``epistemic_t = var mu_k``
and ``aleatoric_t = avg v_k / n`` (the variance of the mean of ``n`` realisations, default the training R).
A ``log`` statistic returns with the log-normal moments: ``E = exp(mean_t + (avg v_k / n_train +
epistemic_t) / 2)``, ``Var_part = expm1(part_t) E²``. ξ, ω, η are dimensionless; r is in comoving Mpc/h.

MC-dropout artifacts draw their dropout masks from a fixed JAX key (``mc_seed``), the same masks at every θ,
so the prediction is a smooth function of θ; they cannot reproduce torch's masks bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from safetensors.numpy import load_file

from catalogs.errors import InputError
from inference.ia_likelihood import Prediction

FORMAT, FORMAT_VERSION = "iaemu-emulator", 1
JSON_NAME, WEIGHTS_NAME = "emulator.json", "weights.safetensors"

_ACTIVATIONS: dict[str, Callable[..., jax.Array]] = {
    "silu": jax.nn.silu,
    "tanh": jnp.tanh,
    "gelu": lambda x, op: jax.nn.gelu(x, approximate=op.get("approximate", "none") == "tanh"),
    "leaky_relu": lambda x, op: jax.nn.leaky_relu(x, op.get("negative_slope", 0.01)),
}


def _apply(ops: list[dict], w: dict[str, jax.Array], x: jax.Array, key: jax.Array | None) -> jax.Array:
    """Run one sample ``x`` (no batch axis) through ``ops``; ``key`` drives MC dropout (None: identity)."""
    for i, op in enumerate(ops):
        kind = op["op"]
        if kind == "linear":
            x = x @ w[op["weight"]].T + w[op["bias"]]
        elif kind == "conv1d":
            y = jax.lax.conv_general_dilated(
                x[None],
                w[op["weight"]],
                (op["stride"],),
                [(op["padding"], op["padding"])],
                dimension_numbers=("NCH", "OIH", "NCH"),
            )
            x = y[0] + w[op["bias"]][:, None]
        elif kind == "layernorm":
            mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
            x = (x - mu) / jnp.sqrt(var + op["eps"]) * w[op["weight"]] + w[op["bias"]]
        elif kind == "groupnorm":
            g = x.reshape(op["groups"], -1)
            g = (g - g.mean(-1, keepdims=True)) / jnp.sqrt(g.var(-1, keepdims=True) + op["eps"])
            affine = (-1,) + (1,) * (x.ndim - 1)
            x = g.reshape(x.shape) * w[op["weight"]].reshape(affine) + w[op["bias"]].reshape(affine)
        elif kind == "batchnorm":
            affine = (-1,) + (1,) * (x.ndim - 1)
            x = (x - w[op["running_mean"]].reshape(affine)) / jnp.sqrt(
                w[op["running_var"]].reshape(affine) + op["eps"]
            ) * w[op["weight"]].reshape(affine) + w[op["bias"]].reshape(affine)
        elif kind == "dropout":
            if key is not None:
                keep = jax.random.bernoulli(jax.random.fold_in(key, i), 1.0 - op["p"], x.shape)
                x = jnp.where(keep, x / (1.0 - op["p"]), 0.0)
        elif kind == "activation":
            fn = _ACTIVATIONS[op["fn"]]
            x = fn(x) if op["fn"] in ("silu", "tanh") else fn(x, op)
        elif kind == "residual":
            x = x + _apply(op["body"], w, x, None if key is None else jax.random.fold_in(key, i))
        elif kind == "reshape":
            x = x.reshape(op["shape"])
        elif kind == "mean_variance":
            x = jnp.stack([x[op["mean_channel"]], jax.nn.softplus(x[op["variance_channel"]]) + op["min_var"]])
        else:
            raise InputError(f"{JSON_NAME}: forward: unknown op '{kind}'")
    return x


def _check_ops(ops: list[dict], names: set[str], where: str) -> None:
    for op in ops:
        if op.get("op") == "residual":
            _check_ops(op["body"], names, where)
        for field in ("weight", "bias", "running_mean", "running_var"):
            if field in op and op[field] not in names:
                raise InputError(f"{where}: tensor '{op[field]}' named by the forward spec is missing")
        if op.get("op") == "activation" and op.get("fn") not in _ACTIVATIONS:
            raise InputError(f"{where}: forward: unknown activation '{op.get('fn')}'")


@dataclass(frozen=True, eq=False)
class JaxEmulator:
    """A trained emulator in JAX; satisfies :class:`inference.ia_likelihood.Emulator`."""

    name: str
    param_names: tuple[str, ...]
    prior_lo: np.ndarray  # (P,) training box
    prior_hi: np.ndarray
    r: np.ndarray  # (B,) Mpc/h
    r_edges: np.ndarray | None
    statistics: tuple[str, ...]
    transforms: tuple[str, ...]  # per statistic: "log" or "identity"
    n_train: int  # realisations per training row
    n_realisations: int  # the aleatoric variance is that of the mean of this many realisations
    doc: dict[str, Any]
    weights: dict[str, jax.Array]  # stacked over passes' members: (M, ...)
    mc_keys: jax.Array | None  # (K, 2) dropout keys for MC dropout, None for an ensemble
    sha256: str

    def passes(self, theta: jax.Array) -> jax.Array:
        """Per-pass outputs (K, 2, S, B) in the transformed space at ``theta`` (P,) physical units."""
        sc = self.doc["scalers"]
        lo, hi = jnp.asarray(sc["prior_lo"]), jnp.asarray(sc["prior_hi"])
        x = (2.0 * (theta - lo) / (hi - lo) - 1.0).astype(jnp.float32)
        spec = self.doc["forward"]

        def member(w: dict[str, jax.Array], key: jax.Array | None) -> jax.Array:
            z = _apply(spec["encoder"], w, x, None if key is None else jax.random.fold_in(key, 0))
            outs = [
                _apply(dec, w, z, None if key is None else jax.random.fold_in(key, s + 1))
                for s, dec in enumerate(spec["decoders"])
            ]
            return jnp.stack(outs, axis=1)  # (2, S, B)

        if self.mc_keys is None:
            out = jax.vmap(lambda w: member(w, None))(self.weights)
        else:
            single = jax.tree.map(lambda a: a[0], self.weights)
            out = jax.vmap(lambda k: member(single, k))(self.mc_keys)
        center, scale = jnp.asarray(sc["center"]), jnp.asarray(sc["scale"])
        return jnp.stack([out[:, 0] * scale + center, out[:, 1] * scale**2], axis=1)

    def predict(self, theta: jax.Array) -> Prediction:
        """Mean, aleatoric and epistemic variance (S, B) in physical units at ``theta`` (P,)."""
        p = self.passes(jnp.asarray(theta))
        mu, var = p[:, 0], p[:, 1]
        mean_t, epi_t, single_t = mu.mean(0), mu.var(0), var.mean(0)
        is_log = jnp.asarray([t == "log" for t in self.transforms])[:, None]
        phys = jnp.exp(jnp.where(is_log, mean_t + 0.5 * (single_t / self.n_train + epi_t), 0.0))
        mean = jnp.where(is_log, phys, mean_t)
        alea = jnp.where(
            is_log, jnp.expm1(single_t / self.n_realisations) * phys**2, single_t / self.n_realisations
        )
        epi = jnp.where(is_log, jnp.expm1(epi_t) * phys**2, epi_t)
        return Prediction(mean, alea, epi)

    @cached_property
    def predict_batch(self) -> Callable[[jax.Array], Prediction]:
        """Jitted ``predict`` over (N, P) parameter rows."""
        return jax.jit(jax.vmap(self.predict))

    def digest(self) -> str:
        """SHA-256 of the weights file (as recorded in ``emulator.json``)."""
        return self.sha256


def load_jax_emulator(
    directory: str | Path, *, n_realisations: int | None = None, mc_seed: int = 0
) -> JaxEmulator:
    """Load an emulator artifact into JAX; InputError for a missing or malformed artifact.

    ``n_realisations``: the aleatoric variance is that of the mean of this many realisations (default: as
    many as each training row had; 1 for a single simulator realisation).
    """
    directory = Path(directory)
    path, wpath = directory / JSON_NAME, directory / WEIGHTS_NAME
    if not path.is_file() or not wpath.is_file():
        raise InputError(f"{directory}: not an emulator artifact (expected {JSON_NAME} and {WEIGHTS_NAME})")
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    if doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path}: format: expected {FORMAT} version {FORMAT_VERSION}")
    sha = hashlib.sha256(wpath.read_bytes()).hexdigest()
    if sha != doc.get("weights", {}).get("sha256"):
        raise InputError(f"{wpath}: not the weights {JSON_NAME} was written with (SHA-256 differs)")
    tensors = load_file(str(wpath))
    ens = doc["ensemble"]
    mc = ens["epistemic"] == "mc_dropout"
    n_members = 1 if mc else int(ens["size"])
    prefix = ens.get("prefix", "member{i}.")
    stacked = {}
    for name in {k.split(".", 1)[1] for k in tensors if k.startswith(prefix.format(i=0))}:
        stacked[name] = jnp.asarray(np.stack([tensors[prefix.format(i=i) + name] for i in range(n_members)]))
    for part, ops in (
        ("encoder", doc["forward"]["encoder"]),
        *(("decoder", d) for d in doc["forward"]["decoders"]),
    ):
        _check_ops(ops, set(stacked), f"{path} ({part})")
    keys = jax.random.split(jax.random.PRNGKey(mc_seed), int(ens["mc_samples"])) if mc else None
    n_train = int(doc["variance"]["n_realisations"])
    stats = tuple(doc["statistics"])
    return JaxEmulator(
        name=str(directory),
        param_names=tuple(doc["param_names"]),
        prior_lo=np.asarray(doc["prior"]["lo"], float),
        prior_hi=np.asarray(doc["prior"]["hi"], float),
        r=np.asarray(doc["r"], float),
        r_edges=np.asarray(doc["r_edges"], float) if doc.get("r_edges") else None,
        statistics=stats,
        transforms=tuple(doc["transforms"][s] for s in stats),
        n_train=n_train,
        n_realisations=int(n_realisations or n_train),
        doc=doc,
        weights=stacked,
        mc_keys=keys,
        sha256=sha,
    )
