"""One training loop for every torch model of the toolkit (the IA emulator, the top taggers).

Usage::

    config = TrainConfig(epochs=200, batch_size=128, lr=1e-3, seed=0, checkpoint_dir=Path("ckpt"))
    history = train_model(model, loss_fn, train_batches, val_batches, config, quiet=False)

- ``loss_fn(model, batch, epoch) -> scalar tensor``; ``batch`` is a tuple of tensors, moved to the device by
  the loop. With ``amp="auto"`` the forward pass runs under autocast on CUDA (bf16 where supported, else fp16
  with a gradient scaler); ``amp="bf16"`` also autocasts on a CPU with native bf16 (AVX512-BF16 or AMX),
  so a loss should cast the network's outputs to float32 before reducing them.
- ``train_batches(epoch) -> Iterable[batch]`` (streaming allowed; :func:`epoch_batches` shuffles in-memory
  tensors reproducibly from ``(seed, epoch)``, so a resumed run sees the same batches);
  ``val_batches() -> Iterable[batch]``. ``val_loss_fn`` (default ``loss_fn``) should not depend on the epoch
  when the training loss does, since early stopping compares validation losses across epochs.
- AdamW, a per-epoch learning-rate schedule (linear warm-up, then cosine decay to ``min_lr_ratio``),
  gradient-norm clipping, early stopping on the validation loss (``patience`` epochs), steps with a
  non-finite loss skipped and counted.
- Checkpoints: ``checkpoint_dir/last.pt`` (model, optimiser, scheduler, scaler, RNG states, epoch, history,
  best weights) is written atomically after every epoch; a new call with the same directory resumes from it.
- ``cpu_threads``: torch intra-op threads while training on CPU (restored afterwards); small networks train
  several times faster on one thread, above all on a loaded machine.
- The model ends with the weights of the best validation epoch. Seeded and reproducible on CPU.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from common.atomic import atomic_file
from common.device import resolve_device
from common.errors import InputError, check_number
from common.progress import progress

Batch = tuple[torch.Tensor, ...]
LossFn = Callable[[torch.nn.Module, Batch, int], torch.Tensor]

# Settings that may change between a run and its resumption (the rest must match the checkpoint).
_RESUMABLE_CHANGES = {"epochs", "patience", "checkpoint_dir", "device", "amp", "cpu_threads"}


@dataclass
class TrainConfig:
    """Settings of one training run (learning rates per step of AdamW; epochs are passes over the data)."""

    epochs: int = 200
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 5
    schedule: str = "cosine"  # "cosine" (after warm-up, down to lr * min_lr_ratio) or "constant"
    min_lr_ratio: float = 0.01
    patience: int = 30  # early stopping: epochs without a better validation loss
    grad_clip: float = 10.0  # max gradient norm; 0 disables clipping
    amp: str = "auto"  # "auto" (bf16/fp16 autocast on CUDA only), "off", "bf16" (CUDA or CPU), "fp16" (CUDA)
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    seed: int = 0
    checkpoint_dir: Path | None = None
    cpu_threads: int | None = None  # torch intra-op threads on CPU during the run (None: leave as is)

    def __post_init__(self) -> None:  # seeds are derived per member here, so their range is checked upstream
        check_number(self.epochs, "epochs", 1, integer=True)
        check_number(self.batch_size, "batch_size", 1, integer=True)


@dataclass
class TrainHistory:
    """Per-epoch losses and how the run ended."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int = -1
    best_val_loss: float = math.inf
    stopped_early: bool = False
    skipped_steps: int = 0
    resumed_from_epoch: int | None = None
    seconds: float = 0.0
    samples_seen: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) random generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (code that still uses the legacy global generator)
    torch.manual_seed(seed)


def epoch_batches(tensors: Batch, batch_size: int, *, seed: int, epoch: int, shuffle: bool = True
                  ) -> Iterator[Batch]:
    """Mini-batches of in-memory tensors (same first dimension), shuffled from ``(seed, epoch)`` alone."""
    n = tensors[0].shape[0]
    if shuffle:
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))
        order = torch.randperm(n, generator=gen)
    else:
        order = torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield tuple(t[idx] for t in tensors)


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX), where bf16 autocast pays."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def amp_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a run with `config` on `device` (None: no autocast, float32)."""
    if device.type == "cpu" and config.amp == "bf16" and cpu_has_bf16():
        return torch.bfloat16
    if device.type != "cuda" or config.amp == "off":
        return None
    if config.amp == "fp16":
        return torch.float16
    if config.amp == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def _lr_factor(config: TrainConfig, epoch: int) -> float:
    if epoch < config.warmup_epochs:
        return (epoch + 1) / (config.warmup_epochs + 1)
    if config.schedule == "constant":
        return 1.0
    span = max(config.epochs - config.warmup_epochs, 1)
    progress_frac = min((epoch - config.warmup_epochs) / span, 1.0)
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress_frac))


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),  # noqa: NPY002
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _comparable(config: TrainConfig) -> dict:
    return {k: v for k, v in asdict(config).items() if k not in _RESUMABLE_CHANGES}


def _to_device(batch: Batch, device: torch.device) -> Batch:
    return tuple(t.to(device, non_blocking=True) for t in batch)


class _Run:
    """The mutable state of one run: model, optimiser, scheduler, scaler, best weights, history."""

    def __init__(self, model: torch.nn.Module, config: TrainConfig, device: torch.device) -> None:
        self.model, self.config, self.device = model, config, device
        self.amp_dtype = amp_dtype(config, device)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda e: _lr_factor(config, e))
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.history = TrainHistory()
        self.best_state = copy.deepcopy(model.state_dict())
        self.epoch = 0
        self.stale = 0

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "rng": _rng_state(), "epoch": self.epoch, "stale": self.stale,
                "history": self.history.to_dict(), "best_state": self.best_state,
                "config": _comparable(self.config)}

    def load(self, state: dict, path: Path) -> None:
        if state["config"] != _comparable(self.config):
            raise InputError(f"{path}: checkpoint of a different training configuration "
                             f"({state['config']}); remove it or choose another checkpoint folder")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"])
        self.epoch, self.stale, self.best_state = state["epoch"], state["stale"], state["best_state"]
        self.history = TrainHistory(**state["history"])
        self.history.resumed_from_epoch = self.epoch

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32,
                              enabled=self.amp_dtype is not None)

    def train_epoch(self, loss_fn: LossFn, batches: Iterable[Batch]) -> float:
        self.model.train()
        total, count = 0.0, 0
        for batch in batches:
            batch = _to_device(batch, self.device)
            self.optimizer.zero_grad(set_to_none=True)
            with self.autocast():
                loss = loss_fn(self.model, batch, self.epoch)
            if not torch.isfinite(loss):
                self.history.skipped_steps += 1
                continue
            self.scaler.scale(loss).backward()
            if self.config.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            n = batch[0].shape[0]
            total += float(loss.detach()) * n
            count += n
        self.history.samples_seen += count
        return total / count if count else math.nan

    @torch.no_grad()
    def val_epoch(self, loss_fn: LossFn, batches: Iterable[Batch]) -> float:
        self.model.eval()
        total, count = 0.0, 0
        for batch in batches:
            batch = _to_device(batch, self.device)
            with self.autocast():
                loss = loss_fn(self.model, batch, self.epoch)
            n = batch[0].shape[0]
            total += float(loss) * n
            count += n
        return total / count if count else math.nan


def _save_checkpoint(run: _Run, path: Path) -> None:
    with atomic_file(path) as tmp:
        torch.save(run.state(), tmp)


@contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch intra-op threads (small networks train faster on one), then restore."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_model(model: torch.nn.Module, loss_fn: LossFn, train_batches: Callable[[int], Iterable[Batch]],
                val_batches: Callable[[], Iterable[Batch]], config: TrainConfig, *, quiet: bool = False,
                val_loss_fn: LossFn | None = None, desc: str = "training") -> TrainHistory:
    """Train ``model`` in place (it ends on ``config.device`` with its best validation weights)."""
    device = resolve_device(config.device)
    with cpu_threads(config.cpu_threads if device.type == "cpu" else None):
        return _train(model, loss_fn, train_batches, val_batches, config, device, quiet, val_loss_fn, desc)


def _train(model: torch.nn.Module, loss_fn: LossFn, train_batches: Callable[[int], Iterable[Batch]],
           val_batches: Callable[[], Iterable[Batch]], config: TrainConfig, device: torch.device, quiet: bool,
           val_loss_fn: LossFn | None, desc: str) -> TrainHistory:
    seed_everything(config.seed)
    model.to(device)
    run = _Run(model, config, device)
    ckpt = Path(config.checkpoint_dir) / "last.pt" if config.checkpoint_dir else None
    if ckpt is not None and ckpt.exists():
        run.load(torch.load(ckpt, map_location="cpu", weights_only=False), ckpt)  # RNG states stay on CPU
    val_fn = val_loss_fn or loss_fn
    start = time.perf_counter()
    epochs = range(run.epoch, config.epochs)
    for epoch in progress(epochs, total=len(epochs), desc=desc, quiet=quiet):
        if run.stale >= config.patience:
            run.history.stopped_early = True
            break
        run.epoch = epoch
        run.history.lr.append(run.optimizer.param_groups[0]["lr"])
        run.history.train_loss.append(run.train_epoch(loss_fn, train_batches(epoch)))
        run.scheduler.step()
        val = run.val_epoch(val_fn, val_batches())
        run.history.val_loss.append(val)
        if val < run.history.best_val_loss:
            run.history.best_val_loss, run.history.best_epoch, run.stale = val, epoch, 0
            run.best_state = copy.deepcopy(model.state_dict())
        else:
            run.stale += 1
        run.epoch = epoch + 1
        if ckpt is not None:
            _save_checkpoint(run, ckpt)
    run.history.seconds += time.perf_counter() - start
    model.load_state_dict(run.best_state)
    model.eval()
    return run.history
