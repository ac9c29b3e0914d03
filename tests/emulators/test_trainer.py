"""The shared training loop: reproducible, resumable, early stopping, best weights, devices."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from common.errors import InputError
from emulators.trainer import TrainConfig, epoch_batches, seed_everything, train_model


def regression_data(n: int = 256) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 2, generator=gen) * 2 - 1
    y = torch.sin(2 * x[:, :1]) + x[:, 1:] ** 2 + 0.05 * torch.randn(n, 1, generator=gen)
    return (x[:200], y[:200]), (x[200:], y[200:])


def mse(model: torch.nn.Module, batch: tuple[torch.Tensor, ...], epoch: int) -> torch.Tensor:
    x, y = batch
    return ((model(x).float() - y) ** 2).mean()


def make_model(seed: int) -> torch.nn.Module:
    seed_everything(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(2, 32), torch.nn.SiLU(), torch.nn.Dropout(0.1), torch.nn.Linear(32, 1)
    )


def fit(config: TrainConfig, loss=mse, model: torch.nn.Module | None = None):
    train, val = regression_data()
    model = model or make_model(config.seed)
    history = train_model(
        model,
        loss,
        lambda e: epoch_batches(train, 32, seed=config.seed, epoch=e),
        lambda: epoch_batches(val, 64, seed=0, epoch=0, shuffle=False),
        config,
        quiet=True,
    )
    return model, history


CONFIG = TrainConfig(epochs=12, batch_size=32, lr=1e-2, warmup_epochs=2, patience=100, seed=3, device="cpu")


def test_training_learns_and_keeps_the_best_epoch() -> None:
    model, history = fit(CONFIG)
    assert history.val_loss[-1] < 0.5 * history.val_loss[0]
    assert history.best_val_loss == min(history.val_loss)
    assert history.best_epoch == history.val_loss.index(history.best_val_loss)
    _, val = regression_data()
    with torch.no_grad():
        assert math.isclose(float(mse(model, val, 0)), history.best_val_loss, rel_tol=1e-5)
    assert not model.training


def test_same_seed_same_weights_and_warmup_cosine_schedule() -> None:
    a, ha = fit(CONFIG)
    b, _ = fit(CONFIG)
    c, _ = fit(replace(CONFIG, seed=4))
    assert all(
        torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    assert not torch.equal(a[0].weight, c[0].weight)
    # linear warm-up over 2 epochs, then cosine from lr down to lr * min_lr_ratio
    assert ha.lr[0] == pytest.approx(1e-2 / 3) and ha.lr[1] == pytest.approx(2e-2 / 3)
    assert ha.lr[2] == pytest.approx(1e-2)
    assert ha.lr[7] == pytest.approx(1e-2 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 5 / 10))))


def test_a_killed_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    straight, h_straight = fit(replace(CONFIG, checkpoint_dir=tmp_path / "a"))

    class Killed(Exception):
        pass

    def dies_at_epoch_5(model, batch, epoch):
        if epoch == 5:
            raise Killed
        return mse(model, batch, epoch)

    config = replace(CONFIG, checkpoint_dir=tmp_path / "b")
    with pytest.raises(Killed):
        fit(config, loss=dies_at_epoch_5)
    assert (tmp_path / "b" / "last.pt").exists()
    resumed, h_resumed = fit(config, model=make_model(99))  # different init: the checkpoint must win
    assert h_resumed.resumed_from_epoch == 5
    assert h_resumed.val_loss == h_straight.val_loss
    assert all(
        torch.equal(p, q)
        for p, q in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True)
    )
    with pytest.raises(InputError, match="different training configuration"):
        fit(replace(config, lr=0.5))


def test_early_stopping_and_non_finite_steps() -> None:
    calls = []

    def flat(model, batch, epoch):  # no improvement after epoch 0; NaN on one batch per epoch
        calls.append(epoch)
        x, _ = batch
        out = model(x).sum() * 0.0 + 1.0
        return out * math.nan if len(calls) % 7 == 0 else out

    _, history = fit(replace(CONFIG, epochs=50, patience=3), loss=flat)
    assert history.stopped_early and len(history.val_loss) == 4
    assert history.skipped_steps > 0


def test_cpu_threads_are_set_during_training_and_restored() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []

    def counting(model, batch, epoch):
        seen.append(torch.get_num_threads())
        return mse(model, batch, epoch)

    try:
        fit(replace(CONFIG, epochs=1, cpu_threads=1), loss=counting)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.gpu
def test_cuda_mixed_precision_training_learns() -> None:
    model, history = fit(replace(CONFIG, device="cuda", amp="auto"))
    assert next(model.parameters()).device.type == "cuda"
    assert history.val_loss[-1] < 0.5 * history.val_loss[0]
    _, fp16 = fit(replace(CONFIG, device="cuda", amp="fp16"))
    assert fp16.val_loss[-1] < 0.5 * fp16.val_loss[0]
