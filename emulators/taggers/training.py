"""Train a top tagger on ROOT files with the shared trainer (`emulators.trainer`), streaming the jets.

    meta = train_tagger(["top.root", "qcd.root"], ["val.root"], "tagger/", model="lorentznet", epochs=20)

Binary cross-entropy on the logits; AdamW with warm-up and cosine decay, early stopping on the validation
loss, autocast where it pays (CUDA; LorentzNet also on a CPU with AVX512-BF16 or AMX: about 2× its float32
speed there; Minkowski products stay float32), a checkpoint per epoch in
`.<out>.ckpt/` beside the output (a killed run resumes when called again with the same arguments; the
folder is removed once the tagger is saved), all seeded.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from common.device import resolve_device
from common.errors import InputError, check_choice
from emulators.taggers import data as tagger_data
from emulators.taggers.metrics import point_metrics
from emulators.taggers.registry import build_tagger, count_parameters, predict_scores, save_tagger
from emulators.trainer import TrainConfig, amp_dtype, train_model

# auto: autocast on CUDA (bf16, else fp16), and bf16 on a CPU with native bf16 for the models whose
# CPU_BF16 says it pays there (LorentzNet: 2.1x; L-GATr: 3.6x slower compiled, 0.86x eager); fp32: none.
Precision = Literal["auto", "fp32"]


def bce_loss(model: Callable[..., torch.Tensor], batch: tuple[torch.Tensor, ...], epoch: int) -> torch.Tensor:
    """Mean binary cross-entropy of the logits of jets (p4, mask) against labels (1 top, 0 QCD)."""
    p, mask, label = batch
    logits = model(p, mask).float()
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, label.float())


def train_tagger(train_paths: Sequence[str | Path], val_paths: Sequence[str | Path], out: str | Path, *,
                 model: str = "lorentznet", epochs: int = 20, batch_size: int = 64, lr: float = 1e-3,
                 weight_decay: float = 0.01, patience: int = 5, device: str = "auto", seed: int = 0,
                 max_jets: int | None = None, max_val_jets: int | None = None, max_particles: int = 200,
                 precision: Precision = "auto", compile_model: bool = False,
                 overrides: dict[str, Any] | None = None, quiet: bool = False) -> dict[str, Any]:
    """Train tagger `model` on the jets of `train_paths`, validate on `val_paths`, save it to `out`.

    `max_jets` / `max_val_jets` limit the training / validation jets (split among the files in proportion
    to their sizes, first entries of each); `max_particles` keeps the leading constituents of each jet (the
    files store them pT-ordered), recorded in tagger.json and applied again by `evaluate` and `predict`.
    `compile_model` trains through `torch.compile` on batches padded to `max_particles` (fixed shapes, so it
    compiles once per batch shape: about 4.6× for L-GATr on one CPU thread, 1.1× for LorentzNet, after a
    compilation of one to three minutes).
    Returns the saved tagger.json contents (config, parameter count, training history, validation metrics).
    """
    check_choice(precision, Precision, "precision")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("max_particles", max_particles)):
        if value < 1:
            raise InputError(f"train_tagger: {name}: expected a positive integer, got {value}")
    overlap = {Path(p).resolve() for p in train_paths} & {Path(p).resolve() for p in val_paths}
    if overlap:
        raise InputError(f"{sorted(overlap)[0]}: given for both training and validation "
                         "(repeat --val before each validation file)")
    train_files = tagger_data.scan_files(train_paths, "TRAIN", max_jets)
    val_files = tagger_data.scan_files(val_paths, "--val", max_val_jets)
    per_role = {}
    for role, files in (("training", train_files), ("validation", val_files)):
        per_role[role] = found = tagger_data.class_counts(files)
        if found.min() == 0:
            raise InputError(f"{', '.join(str(f.path) for f in files)}: label_*: the {role} files hold "
                             f"{found[1]} top and {found[0]} QCD jets; both classes are needed")
    counts = per_role["training"]
    out = Path(out)
    torch.manual_seed(seed)
    net = build_tagger(model, overrides)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                         warmup_epochs=min(2, epochs // 4), patience=patience, device=device, seed=seed,
                         amp="off" if precision == "fp32" else "bf16" if net.CPU_BF16 else "auto",
                         checkpoint_dir=out.parent / f".{out.name}.ckpt")

    forward = torch.compile(net, dynamic=False) if compile_model else net
    width = max_particles if compile_model else None

    def train_batches(epoch: int):
        return tagger_data.stream_batches(train_files, batch_size, shuffle=True, seed=seed, epoch=epoch,
                                          max_particles=max_particles, width=width)

    def val_batches():
        return tagger_data.stream_batches(val_files, 4 * batch_size, shuffle=False,
                                          max_particles=max_particles, width=width)

    start = time.perf_counter()
    history = train_model(net, lambda _, batch, epoch: bce_loss(forward, batch, epoch), train_batches,
                          val_batches, config, quiet=quiet, desc=f"train {model}")
    seconds = time.perf_counter() - start
    p, mask, label = tagger_data.read_all(val_files, max_particles)
    scores = predict_scores(net, p, mask, device=resolve_device(device))
    val_metrics = point_metrics(label, scores)
    net.cpu()
    training = {
        "train_files": [str(f.path) for f in train_files], "val_files": [str(f.path) for f in val_files],
        "n_train": {"top": int(counts[1]), "qcd": int(counts[0])}, "n_val": len(label),
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "seed": seed,
        "device": str(resolve_device(device)), "max_particles": max_particles, "seconds": seconds,
        "compiled": compile_model,
        "precision": str(amp_dtype(config, resolve_device(device)) or torch.float32).removeprefix("torch."),
        "train_jets_per_s": history.samples_seen / history.seconds if history.seconds else float("nan"),
        "history": history.to_dict(), "val_metrics": val_metrics,
    }
    meta = {"model": model, "config": net.config.to_dict(), "params": count_parameters(net),
            "training": training}
    save_tagger(net, model, out, extra={"training": training})
    shutil.rmtree(config.checkpoint_dir, ignore_errors=True)
    return meta

