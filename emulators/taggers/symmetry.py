"""Symmetry discovery with LieGAN (Yang, Walters, Dehmamy & Yu, ICML 2023; docs/ARCHITECTURE.md 4.6).

    summary = discover_symmetry(["top.root", "qcd.root"], "sym/", LieGANSettings(generators=7))

A generator holds a learnable Lie-algebra basis L_1..L_k (k, n, n) and transforms every sample x (C, n) -- C
vectors acted on identically (block-diagonal) -- by g = matrix_exp(Σ z_i L̂_i), z ~ N(0, σ²), with each L̂_i
the basis element scaled to ‖L̂_i‖_F² = n (the normalisation keeps the basis away from zero and fixes the
scale of the transformations, which σ sets). A discriminator conditioned on the label (a learned embedding)
tells transformed samples from real ones; the label stays, so a transformation that fools it is a symmetry of
the joint distribution of (x, label), as a classifier's invariance needs. Two regularisers follow LieGAN:
λ |mean cos(g x_c, x_c)| over the vectors keeps the transformations away from the identity (and from
dilations), and η Σ_{i<j} |cos(L_i, L_j)| keeps the basis elements apart.

Jets: the `constituents` leading four-momenta (E, px, py, pz) of each jet, pT-ordered as stored, divided by
the constant MOMENTUM_SCALE = 100 GeV (a global constant commutes with every linear map, so a symmetry of the
momenta stays an exact symmetry of the scaled inputs); jets with fewer constituents are zero-padded (a zero
vector is fixed by every g). Training is seeded (epoch e draws from seed and e alone), CPU by default, and
resumes from a checkpoint file written after every epoch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from catalogs.jets.rootio import iter_jets
from common.atomic import atomic_directory, atomic_file
from common.device import DeviceName, resolve_device
from common.errors import InputError, check_choice
from common.hashing import hash_arrays, hash_files
from common.progress import progress
from emulators.taggers.symmetry_analysis import analyse_basis, plot_symmetry

MOMENTUM_SCALE = 100.0  # GeV; four-momenta are divided by it
SYMMETRY_JSON, SYMMETRY_PNG = "symmetry.json", "symmetry.png"


@dataclass(frozen=True)
class LieGANSettings:
    """The discoverer's settings, checked when made (InputError naming the field and its flag).

    σ sets the size of the transformations: a 4×4 rotation or boost generator normalised to ‖L̂‖_F² = 4 turns
    by an angle (rapidity) √2 σ z. On jets, σ = 0.3 lets the Lorentz transformations pass while a generic
    linear map of that size moves the massless constituents off the light cone (p² = 0 is sharp in the
    data). η = 1 (LieGAN's top-tagging run used 0.1) keeps 7 generators from merging inside the
    6-dimensional so(1,3) over long runs.
    """

    generators: int = 7  # k, the number of basis elements
    epochs: int = 30
    batch_size: int = 64
    sigma: float = 0.3  # standard deviation of the coefficients z_i
    lr_generator: float = 1e-3
    lr_discriminator: float = 2e-4
    identity_weight: float = 1.0  # λ of the mean |cos(g x, x)| penalty
    correlation_weight: float = 1.0  # η of the Σ_{i<j} |cos(L_i, L_j)| penalty
    hidden: int = 256  # discriminator width
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        def field(name: str) -> str:  # the name, and its flag where `toptag discover-symmetry` has one
            flag = name.replace("_", "-")
            return f"{name} (--{flag})" if name in ("generators", "epochs", "batch_size", "sigma") else name

        for name in ("generators", "epochs", "batch_size", "hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InputError(f"{field(name)}: {value}: expected a positive integer")
        for name in ("sigma", "lr_generator", "lr_discriminator"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) <= 0:
                raise InputError(f"{field(name)}: {getattr(self, name)}: expected a positive number")
        for name in ("identity_weight", "correlation_weight"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise InputError(f"{name}: {getattr(self, name)}: expected a non-negative number")
        check_choice(self.device, DeviceName, "device (--device)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class LieGenerator(nn.Module):
    """The learnable basis (k, n, n) and the random group elements g = matrix_exp(Σ z_i L̂_i) it generates."""

    def __init__(self, n: int, k: int, sigma: float) -> None:
        super().__init__()
        self.basis = nn.Parameter(torch.randn(k, n, n) / math.sqrt(n))
        self.sigma = sigma

    def normalized_basis(self) -> torch.Tensor:
        """The basis with every element scaled to squared Frobenius norm n."""
        n = self.basis.shape[-1]
        norms = self.basis.pow(2).sum((-2, -1), keepdim=True).div(n).sqrt()
        return self.basis / (norms + 1e-12)

    def forward(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """x (B, C, n) -> g x per sample, one g (B, n, n) for all C vectors of a sample."""
        z = self.sigma * torch.randn(len(x), self.basis.shape[0], generator=rng).to(x.device, x.dtype)
        g = torch.matrix_exp(torch.einsum("bk,kij->bij", z, self.normalized_basis()))
        return x @ g.transpose(-1, -2)


class LabelDiscriminator(nn.Module):
    """An MLP on (flattened sample, label embedding) -> logit that the sample is real."""

    def __init__(self, n_inputs: int, n_classes: int, hidden: int, embedding: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_classes, embedding)
        self.net = nn.Sequential(
            nn.Linear(n_inputs + embedding, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x.flatten(1), self.embed(label)], -1))[:, 0]


def identity_penalty(x: torch.Tensor, gx: torch.Tensor) -> torch.Tensor:
    """|mean cos(g x_c, x_c)| over samples and vectors: 1 for the identity and dilations, less for large g."""
    return nn.functional.cosine_similarity(gx, x, dim=-1).mean().abs()


def correlation_penalty(basis: torch.Tensor) -> torch.Tensor:
    """Σ_{i<j} |cos(L_i, L_j)| (Frobenius) over the basis (k, n, n): 0 for mutually orthogonal elements."""
    flat = nn.functional.normalize(basis.flatten(1), dim=-1)
    return torch.triu((flat @ flat.T).abs(), diagonal=1).sum()


@dataclass
class LieGANResult:
    """A trained discoverer: the normalised basis (k, n, n), per-epoch losses, epochs run now, seconds."""

    basis: np.ndarray
    history: dict[str, list[float]]
    epochs_run: int
    seconds: float


_LOSSES = ("d_real", "d_fake", "g_adversarial", "identity", "correlation")


def _epoch_rng(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def _resume(checkpoint: Path | None, key: str, epochs: int, models: Sequence[nn.Module],
            optimizers: Sequence[Any]) -> tuple[int, dict[str, list[float]]]:
    """Load a checkpoint written for the same settings (but `epochs`) and data, at most `epochs` epochs in;
    else start at epoch 0."""
    if checkpoint is None or not checkpoint.is_file():
        return 0, {name: [] for name in _LOSSES}
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if state.get("key") != key or state["epoch"] > epochs:
        return 0, {name: [] for name in _LOSSES}
    for obj, saved in zip([*models, *optimizers], state["states"], strict=True):
        obj.load_state_dict(saved)
    return int(state["epoch"]), state["history"]


def fit_liegan(x: np.ndarray, labels: np.ndarray, n_classes: int, settings: LieGANSettings, *,
               checkpoint: str | os.PathLike[str] | None = None, quiet: bool = False) -> LieGANResult:
    """Train LieGAN on samples x (N, C, n) with integer labels (N,) in [0, n_classes).

    With `checkpoint`, the state is saved there after every epoch, and a run with the same settings (any
    `epochs`) on the same data resumes from it, reproducing the numbers of an uninterrupted run.
    """
    if len(x) < settings.batch_size:
        raise InputError(f"samples: {len(x)}: fewer than one batch (batch_size {settings.batch_size})")
    device = resolve_device(settings.device)
    key = hash_arrays(x, labels) + json.dumps({**settings.to_dict(), "epochs": None}, sort_keys=True)
    torch.manual_seed(settings.seed)
    gen = LieGenerator(x.shape[-1], settings.generators, settings.sigma).to(device)
    disc = LabelDiscriminator(x.shape[1] * x.shape[2], n_classes, settings.hidden).to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=settings.lr_generator, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=settings.lr_discriminator)
    path = Path(checkpoint) if checkpoint is not None else None
    first, history = _resume(path, key, settings.epochs, (gen, disc), (opt_g, opt_d))
    data = torch.as_tensor(x, dtype=torch.float32, device=device)
    target = torch.as_tensor(labels, dtype=torch.long, device=device)
    bce = nn.functional.binary_cross_entropy_with_logits
    start = time.perf_counter()
    steps = len(x) // settings.batch_size  # the last, partial batch of each shuffle is dropped
    for epoch in progress(range(first, settings.epochs), total=settings.epochs - first, desc="LieGAN",
                          quiet=quiet):
        rng = _epoch_rng(settings.seed, epoch)
        order = torch.randperm(len(x), generator=rng).to(device)
        sums = dict.fromkeys(_LOSSES, 0.0)
        for step in range(steps):
            idx = order[step * settings.batch_size:(step + 1) * settings.batch_size]
            xb, yb = data[idx], target[idx]
            ones, zeros = torch.ones(len(xb), device=device), torch.zeros(len(xb), device=device)
            gx = gen(xb, rng)
            adversarial = bce(disc(gx, yb), ones)
            ident, corr = identity_penalty(xb, gx), correlation_penalty(gen.basis)
            opt_g.zero_grad()
            (adversarial + settings.identity_weight * ident + settings.correlation_weight * corr).backward()
            opt_g.step()
            real, fake = bce(disc(xb, yb), ones), bce(disc(gx.detach(), yb), zeros)
            opt_d.zero_grad()
            ((real + fake) / 2).backward()
            opt_d.step()
            for name, value in zip(_LOSSES, (real, fake, adversarial, ident, corr), strict=True):
                sums[name] += value.item() / steps
        for name in _LOSSES:
            history[name].append(sums[name])
        if path is not None:
            state = {"key": key, "epoch": epoch + 1, "history": history,
                     "states": [o.state_dict() for o in (gen, disc, opt_g, opt_d)]}
            with atomic_file(path) as tmp:
                torch.save(state, tmp)
    basis = gen.normalized_basis().detach().cpu().double().numpy()
    return LieGANResult(basis, history, settings.epochs - first, time.perf_counter() - start)


def read_leading_constituents(paths: Sequence[str | os.PathLike[str]], constituents: int
                              ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The `constituents` leading four-momenta of every jet, (N, C, 4) float32 (E, px, py, pz) in units of
    MOMENTUM_SCALE (zero rows for missing constituents), the labels (N,) and the label branch names."""
    if constituents < 1:
        raise InputError(f"constituents (--constituents): {constituents}: expected a positive integer")
    chunks = list(iter_jets(paths, max_particles=constituents))
    p4 = np.concatenate([c.p4 * c.mask[..., None] for c in chunks]) / MOMENTUM_SCALE
    labels = np.concatenate([c.labels for c in chunks])
    return p4.astype(np.float32), labels, chunks[0].label_names


def discover_symmetry(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
                      settings: LieGANSettings, *, constituents: int = 2, quiet: bool = False
                      ) -> dict[str, Any]:
    """Discover the symmetry of the jets of `paths` and write `out/`: symmetry.json (basis, invariant form A,
    its eigenvalues and signature, similarities to η and so(1,3), settings, timings) and symmetry.png.

    A killed run resumes from `.<out>.ckpt` beside `out` (removed once `out` is written). Returns the JSON.
    """
    out = Path(out)
    start = time.perf_counter()
    x, labels, names = read_leading_constituents(paths, constituents)
    if len(x) < settings.batch_size:
        raise InputError(f"{', '.join(map(str, paths))}: {len(x)} jets: fewer than one batch "
                         f"(batch_size (--batch-size) {settings.batch_size})")
    read_seconds = time.perf_counter() - start
    checkpoint = out.parent / f".{out.name}.ckpt"
    result = fit_liegan(x, labels, len(names), settings, checkpoint=checkpoint, quiet=quiet)
    start = time.perf_counter()
    analysis = analyse_basis(result.basis)
    summary = {
        "basis": result.basis.tolist(),
        **analysis,
        "settings": {**settings.to_dict(), "constituents": constituents, "momentum_scale_gev": MOMENTUM_SCALE,
                     "device": str(resolve_device(settings.device))},
        "data": {"files": [str(p) for p in paths], "sha256": hash_files(*paths), "n_jets": len(x),
                 "per_label": {name: int(np.sum(labels == i)) for i, name in enumerate(names)}},
        "history": result.history,
        "timings": {"read_s": read_seconds, "train_s": result.seconds, "epochs_run": result.epochs_run,
                    "analysis_s": time.perf_counter() - start},
    }
    form = analysis["invariant_form"]
    title = f"eigenvalues of A: {', '.join(f'{v:.2f}' for v in form['eigenvalues'])}"
    with atomic_directory(out) as tmp:
        (tmp / SYMMETRY_JSON).write_text(json.dumps(summary, indent=2) + "\n")
        plot_symmetry(result.basis, np.asarray(form["A"]), tmp / SYMMETRY_PNG, title)
    checkpoint.unlink(missing_ok=True)
    return summary
