"""Train the IA emulator on a mock dataset: a deep ensemble (default) or one MC-dropout network.

:func:`train_emulator` works on a :class:`~emulators.ia.data.MockData` in memory; :func:`train_to_artifact`
is what ``iaemu train`` runs: read, split (train / validation / held-out test, seeded), train every member
with the shared loop of :mod:`emulators.trainer`, evaluate on the test split, write the artifact atomically.
Member i is initialised and shuffled from ``seed * 1000 + i``. Checkpoints live in
``<out>.checkpoints/<data hash>/`` beside the output, so a killed run resumes (on the same data only); they
are removed once the artifact is written.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from common.atomic import atomic_directory
from common.device import resolve_device
from common.errors import InputError, check_seed
from common.outputs import check_output, holds
from emulators.artifact_files import EMULATOR_JSON
from emulators.ia.artifact import round_to_storage
from emulators.ia.data import (
    STATISTICS,
    MockData,
    Scalers,
    mock_world,
    read_mocks,
    split_rows,
    training_arrays,
)
from emulators.ia.emulator import TorchEmulator
from emulators.ia.losses import BetaSchedule, beta_nll
from emulators.ia.network import Ensemble, IAEmuNet, ModelConfig
from emulators.trainer import TrainConfig, epoch_batches, seed_everything, train_model


@dataclass
class EmulatorSettings:
    """Everything that defines a trained emulator besides its data."""

    members: int = 5
    epistemic: str = "ensemble"  # "ensemble" | "mc_dropout"
    mc_samples: int = 32
    mc_dropout: float = 0.1  # dropout rate used when epistemic == "mc_dropout"
    use_scatter: bool = True  # loss: likelihood of all realisations (True) or of their mean (False)
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=120, batch_size=64, lr=2e-3, weight_decay=1e-4, warmup_epochs=10, patience=60, grad_clip=10.0,
        cpu_threads=1))
    beta: BetaSchedule = field(default_factory=BetaSchedule)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["train"]["checkpoint_dir"] = None
        d["beta"]["betas"] = list(self.beta.betas)
        return d


def _loss(n_real: int, beta: BetaSchedule | None, use_scatter: bool):
    def loss(model: torch.nn.Module, batch: tuple[torch.Tensor, ...], epoch: int) -> torch.Tensor:
        x, y, sem2, mask = batch
        out = model(x)
        b = 0.0 if beta is None else beta(epoch, x.device)
        return beta_nll(out[:, 0], out[:, 1], y, sem2, mask, n_real, b, use_scatter=use_scatter)

    return loss


def train_emulator(
    train: MockData, val: MockData, settings: EmulatorSettings, *, checkpoint_dir: Path | None = None,
    quiet: bool = False,
) -> tuple[TorchEmulator, list[dict]]:
    """Train the networks on ``train`` (early stopping on ``val``); return the emulator and the histories."""
    if settings.epistemic not in ("ensemble", "mc_dropout"):
        raise InputError(f"epistemic: expected 'ensemble' or 'mc_dropout', got {settings.epistemic!r}")
    if settings.members < 1:
        raise InputError(f"members: expected at least 1 member, got {settings.members}")
    mc = settings.epistemic == "mc_dropout"
    cfg = replace(settings.model, n_params=train.params.shape[1], n_bins=train.r.size,
                  n_stats=len(STATISTICS), dropout=settings.mc_dropout if mc else settings.model.dropout)
    scalers = Scalers.fit(train)
    device = resolve_device(settings.train.device)
    tensors = {name: tuple(torch.from_numpy(a).to(device) for a in training_arrays(d, scalers))
               for name, d in (("train", train), ("val", val))}
    train_loss = _loss(train.n_real, settings.beta, settings.use_scatter)
    val_loss = _loss(train.n_real, None, settings.use_scatter)
    members, histories = [], []
    for i in range(1 if mc else settings.members):
        seed = settings.train.seed * 1000 + i
        seed_everything(seed)
        net = IAEmuNet(cfg)
        ckpt = checkpoint_dir / f"member{i}" if checkpoint_dir else None
        config = replace(settings.train, seed=seed, checkpoint_dir=ckpt)
        history = train_model(
            net, train_loss,
            lambda e, s=seed, b=config.batch_size: epoch_batches(tensors["train"], b, seed=s, epoch=e),
            lambda: epoch_batches(tensors["val"], 4096, seed=0, epoch=0, shuffle=False),
            config, quiet=quiet, val_loss_fn=val_loss, desc=f"member {i + 1}")
        members.append(net.cpu())
        histories.append(history.to_dict())
    ensemble = Ensemble(cfg, members)
    round_to_storage(ensemble)  # what is measured from here on is what the artifact stores
    emulator = TorchEmulator(ensemble.to(device), scalers, list(train.param_names), train.r,
                             train.r_edges, train.n_real, settings.epistemic, settings.mc_samples)
    return emulator, histories


def _summary(histories: list[dict]) -> list[dict]:
    keys = ("best_epoch", "best_val_loss", "stopped_early", "skipped_steps", "seconds", "samples_seen")
    return [{**{k: h[k] for k in keys}, "epochs_run": len(h["train_loss"]),
             "train_loss": h["train_loss"], "val_loss": h["val_loss"]} for h in histories]


def train_to_artifact(mocks: str | os.PathLike[str], out: str | os.PathLike[str],
                      settings: EmulatorSettings | None = None, *, drop_nan: bool = False,
                      error_mocks: str | os.PathLike[str] | None = None,
                      quiet: bool = False) -> TorchEmulator:
    """Train on ``mocks`` (HDF5, docs/ARCHITECTURE.md 3.1) and write the artifact directory ``out``
    (docs/ARCHITECTURE.md 3.2); with ``error_mocks`` (independent mocks) the artifact carries the emulator
    error measured on them (:mod:`emulators.ia.error`)."""
    from emulators.ia.artifact import write_artifact
    from emulators.ia.error import emulator_error, read_error_mocks
    from emulators.ia.evaluate import compute_metrics
    from emulators.ia.noise import emulator_noise

    settings = settings or EmulatorSettings()
    check_seed(settings.train.seed, "seed")
    out = check_output(out, "dir", inputs=(mocks, error_mocks), own=holds(EMULATOR_JSON), what="artifact")
    data = read_mocks(mocks, drop_nan=drop_nan)
    if error_mocks is not None:  # refused before, not after, training
        read_error_mocks(error_mocks, data.sha256, data.param_names, data.r_edges)
    fractions = (settings.val_fraction, settings.test_fraction)
    tr, va, te = split_rows(len(data.params), fractions, settings.train.seed)
    ckpt_root = out.with_name(out.name + ".checkpoints")
    emulator, histories = train_emulator(data.subset(tr), data.subset(va), settings,
                                         checkpoint_dir=ckpt_root / data.sha256[:16], quiet=quiet)
    test_rows = data.row_index[te] if te.size else np.array([], dtype=int)
    emulator.meta = {
        "data": {"path": str(mocks), "sha256": data.sha256, "rows_in_file": int(data.row_index.size
                 + data.excluded["not_done"] + data.excluded["nan"]), "rows_used": int(len(data.params)),
                 "realisations": data.n_real, "excluded": data.excluded, "world": mock_world(mocks)},
        "split": {"seed": settings.train.seed, "train": int(tr.size), "validation": int(va.size),
                  "test": int(te.size), "test_rows": test_rows.tolist()},
        "settings": settings.to_dict(),
        "histories": _summary(histories),
        "test_metrics": compute_metrics(emulator, data.subset(te))["summary"] if te.size else None,
    }
    if data.n_real >= 2:
        emulator.noise = emulator_noise(emulator, mocks, data.row_index[tr])
    if error_mocks is not None:
        emulator.error = emulator_error(emulator, error_mocks)
    with atomic_directory(out) as tmp:
        write_artifact(emulator, tmp)
    shutil.rmtree(ckpt_root, ignore_errors=True)
    return emulator
