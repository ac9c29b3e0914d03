"""The IA emulator's forward pass in JAX, rebuilt from its artifact alone (docs/ARCHITECTURE.md 3.2; no
torch).

Usage::

    emu = load_jax_emulator("emu/")               # emulator.json + weights.safetensors
    pred = emu.predict(theta)                     # theta (P,) physical units -> Prediction of (S, B) arrays
    preds = emu.predict_batch(thetas)             # (N, P) -> Prediction of (N, S, B) arrays, jitted

The ops listed in ``emulator.json["forward"]`` are interpreted in ``jax.numpy`` in float32 (like torch; the
stored tensors, float16 in artifacts written today, are read as float32),
once per ensemble member (members vmapped over their stacked weights), then reduced as
:func:`emulators.ia.emulator.combine` does, in physical units: per-pass means ``mu_k`` and single-realisation
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

from common.errors import InputError
from common.hashing import hash_files
from emulators.artifact_files import EMULATOR_JSON, WEIGHTS
from emulators.ia.artifact_schema import read_emulator_json
from emulators.ia.interface import Prediction

_ACTIVATIONS: dict[str, Callable[..., jax.Array]] = {
    "silu": jax.nn.silu,
    "tanh": jnp.tanh,
    "gelu": lambda x, op: jax.nn.gelu(x, approximate=op.get("approximate", "none") == "tanh"),
    "leaky_relu": lambda x, op: jax.nn.leaky_relu(x, op.get("negative_slope", 0.01)),
}


def _conv1d(x: jax.Array, weight: jax.Array, bias: jax.Array, stride: int, padding: int) -> jax.Array:
    """1-D convolution of ``x`` (C_in, L) as one contraction over shifted copies (im2col).

    On a CPU this is several times faster than ``lax.conv_general_dilated`` at the emulator's sizes (a few
    tens of channels, ~20 bins), with and without the gradient.
    """
    k = weight.shape[2]
    xp = jnp.pad(x, ((0, 0), (padding, padding)))
    n_out = (xp.shape[1] - k) // stride + 1
    cols = jnp.stack([xp[:, j : j + stride * (n_out - 1) + 1 : stride] for j in range(k)], axis=1)
    return jnp.einsum("oik,ikl->ol", weight, cols) + bias[:, None]


def _apply(ops: list[dict], w: dict[str, jax.Array], x: jax.Array, key: jax.Array | None) -> jax.Array:
    """Run one sample ``x`` (no batch axis) through ``ops``; ``key`` drives MC dropout (None: identity)."""
    for i, op in enumerate(ops):
        kind = op["op"]
        if kind == "linear":
            x = x @ w[op["weight"]].T + w[op["bias"]]
        elif kind == "conv1d":
            x = _conv1d(x, w[op["weight"]], w[op["bias"]], op["stride"], op["padding"])
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
            raise InputError(f"{EMULATOR_JSON}: forward: unknown op '{kind}'")
    return x


_TENSOR_FIELDS = ("weight", "bias", "running_mean", "running_var")


def _check_ops(ops: list[dict], names: set[str], where: str) -> None:
    for op in ops:
        if op.get("op") == "residual":
            _check_ops(op["body"], names, where)
        for field in _TENSOR_FIELDS:
            if field in op and op[field] not in names:
                raise InputError(f"{where}: tensor '{op[field]}' named by the forward spec is missing")
        if op.get("op") == "activation" and op.get("fn") not in _ACTIVATIONS:
            raise InputError(f"{where}: forward: unknown activation '{op.get('fn')}'")


def _relabel(ops: list[dict], rename: Callable[[str], str]) -> list[dict]:
    """A copy of ``ops`` with every tensor name passed through ``rename``."""
    out = []
    for op in ops:
        op = dict(op)
        if op.get("op") == "residual":
            op["body"] = _relabel(op["body"], rename)
        for field in _TENSOR_FIELDS:
            if field in op:
                op[field] = rename(op[field])
        out.append(op)
    return out


def _shared_decoder(decoders: list[list[dict]], weights: dict[str, jax.Array]
                    ) -> tuple[list[dict], dict[str, jax.Array]] | None:
    """When every decoder runs the same ops on its own ``decoders.{s}.`` tensors: those ops (names relative
    to the decoder) and the decoders' weights stacked on axis 1, (M, S, ...), so one ``vmap`` runs them all.
    None otherwise (each decoder then runs on its own)."""
    prefixes = [f"decoders.{s}." for s in range(len(decoders))]
    names: list[set[str]] = [set() for _ in decoders]

    def strip(s: int) -> Callable[[str], str]:
        def rename(name: str) -> str:
            names[s].add(name)
            return name.removeprefix(prefixes[s]) if name.startswith(prefixes[s]) else "\0" + name
        return rename

    relative = [_relabel(ops, strip(s)) for s, ops in enumerate(decoders)]
    if any(ops != relative[0] for ops in relative) or any(n.startswith("\0") for n in names[0]):
        return None
    rel_names = {n.removeprefix(prefixes[0]) for n in names[0]}
    stacked = {n: jnp.stack([weights[p + n] for p in prefixes], axis=1) for n in rel_names}
    return relative[0], stacked


@dataclass(frozen=True, eq=False)
class JaxEmulator:
    """A trained emulator in JAX; satisfies :class:`inference.ia.likelihood.Emulator`."""

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
    shared_decoder: tuple[list[dict], dict[str, jax.Array]] | None = None  # see _shared_decoder
    noise_correlation: np.ndarray | None = None  # (S·B, S·B) of one realisation's noise (emulators.ia.noise)
    error_covariance: np.ndarray | None = None  # (S·B, S·B) in units of σ (emulators.ia.error)
    covariance_scale: float = 1.0  # κ on the frozen emulator covariance (inference.ia.posterior_calibration)
    parameter_variance: np.ndarray | None = None  # (P,) D of the same calibration, physical units²; None: 0
    amplitude_coefficients: np.ndarray | None = None  # (1 + P,) of a(θ) (emulators.ia.error); None: a = 1

    def covariance_amplitude(self, theta: jax.Array) -> jax.Array:
        """The factor a(θ) = exp(c₀ + c·x) on the emulator covariance at ``theta`` (P,) physical units, x the
        network's inputs (:mod:`emulators.ia.error`); 1 when the artifact has none."""
        if self.amplitude_coefficients is None:
            return jnp.ones((), jnp.float32)
        c = jnp.asarray(self.amplitude_coefficients, jnp.float32)
        return jnp.exp(c[0] + jnp.dot(c[1:], self._inputs(theta)))

    def _inputs(self, theta: jax.Array) -> jax.Array:
        """The network's inputs x (P,) in [-1, 1] on the scalers' prior box."""
        sc = self.doc["scalers"]
        lo, hi = jnp.asarray(sc["prior_lo"]), jnp.asarray(sc["prior_hi"])
        return (2.0 * (theta - lo) / (hi - lo) - 1.0).astype(jnp.float32)

    def passes(self, theta: jax.Array) -> jax.Array:
        """Per-pass outputs (K, 2, S, B) in the transformed space at ``theta`` (P,) physical units."""
        sc = self.doc["scalers"]
        x = self._inputs(theta)
        spec = self.doc["forward"]

        n_dec = len(spec["decoders"])

        def member(w: dict[str, jax.Array], dec_w: dict[str, jax.Array] | None,
                   key: jax.Array | None) -> jax.Array:
            z = _apply(spec["encoder"], w, x, None if key is None else jax.random.fold_in(key, 0))
            keys = [None if key is None else jax.random.fold_in(key, s + 1) for s in range(n_dec)]
            if dec_w is None:
                outs = [_apply(dec, w, z, k) for dec, k in zip(spec["decoders"], keys, strict=True)]
                return jnp.stack(outs, axis=1)  # (2, S, B)
            ops = self.shared_decoder[0]
            if key is None:
                return jnp.moveaxis(jax.vmap(lambda d: _apply(ops, d, z, None))(dec_w), 0, 1)
            return jnp.moveaxis(jax.vmap(lambda d, k: _apply(ops, d, z, k))(dec_w, jnp.stack(keys)), 0, 1)

        dec_weights = None if self.shared_decoder is None else self.shared_decoder[1]
        if self.mc_keys is None:
            out = jax.vmap(lambda w, d: member(w, d, None))(self.weights, dec_weights)
        else:
            single, dec_single = jax.tree.map(lambda a: a[0], (self.weights, dec_weights))
            out = jax.vmap(lambda k: member(single, dec_single, k))(self.mc_keys)
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

    def digest(self, entry: dict | None = None) -> str:
        """SHA-256 of the weights file (as recorded in ``emulator.json``); with an emulator-error entry, the
        SHA-256 of both (the entry changes the likelihood, so a validation keyed by it starts anew).
        ``entry``: another emulator-error entry in place of the artifact's."""
        entry = self.doc.get("emulator_error") if entry is None else entry
        if not entry:
            return self.sha256
        return hashlib.sha256((self.sha256 + json.dumps(entry, sort_keys=True)).encode()).hexdigest()


def _calibration(doc: dict) -> tuple[float, np.ndarray | None]:
    """κ and D (P,) of the emulator-error entry (:mod:`inference.ia.posterior_calibration`); 1 and None when
    not calibrated, or calibrated with κ alone."""
    scale = (doc.get("emulator_error") or {}).get("covariance_scale") or {}
    variance = scale.get("parameter_variance")
    extra = None if not variance else np.asarray([variance[n] for n in doc["param_names"]], float)
    return float(scale.get("value", 1.0)), extra


def _amplitude_coefficients(doc: dict) -> np.ndarray | None:
    """c of the emulator-error entry's amplitude a(θ) (:mod:`emulators.ia.error`); None without one."""
    amplitude = (doc.get("emulator_error") or {}).get("amplitude")
    return None if not amplitude else np.asarray(amplitude["coefficients"], float)


def load_jax_emulator(
    directory: str | Path, *, n_realisations: int | None = None, mc_seed: int = 0
) -> JaxEmulator:
    """Load an emulator artifact into JAX; InputError for a missing or malformed artifact.

    ``n_realisations``: the aleatoric variance is that of the mean of this many realisations (default: as
    many as each training row had; 1 for a single simulator realisation).
    """
    directory = Path(directory)
    path, wpath = directory / EMULATOR_JSON, directory / WEIGHTS
    doc = read_emulator_json(directory)
    sha = hash_files(wpath)
    if sha != doc["weights"]["sha256"]:
        raise InputError(f"{wpath}: not the weights {EMULATOR_JSON} was written with (SHA-256 differs)")
    tensors = {k: v.astype(np.float32) if v.dtype.kind == "f" else v
               for k, v in load_file(str(wpath)).items()}
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
    kappa, extra = _calibration(doc)
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
        shared_decoder=_shared_decoder(doc["forward"]["decoders"], stacked),
        noise_correlation=np.asarray(doc["noise"]["correlation"], float) if doc.get("noise") else None,
        error_covariance=(
            np.asarray(doc["emulator_error"]["covariance"], float) if doc.get("emulator_error") else None
        ),
        covariance_scale=kappa,
        parameter_variance=extra,
        amplitude_coefficients=_amplitude_coefficients(doc),
    )
