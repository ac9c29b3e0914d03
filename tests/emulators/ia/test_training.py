"""The IA emulator on a synthetic dataset with a known mean and known heteroscedastic noise (R = 8).

One deep ensemble (2 small members, 60 epochs, ~10 s on one core) is trained for the whole module.
Tolerances, against the truth the test knows:
- mean: median |prediction - truth| / σ_mean <= 0.5 per statistic (σ_mean: true standard error of an
  8-realisation mean; measured 0.22 / 0.14 / 0.14 for ξ / ω / η);
- noise: median predicted aleatoric variance / true variance of the mean within [0.8, 1.25] (measured 0.99 to
  1.01); 68% coverage of realisation means of fresh rows within [0.60, 0.76] (measured 0.66 to 0.69);
- epistemic: the ensemble's spread is > 10 times larger outside the training box than inside (measured 50x).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from emulators.ia.artifact import load_emulator, write_artifact
from emulators.ia.data import read_mocks
from emulators.ia.evaluate import compute_metrics
from emulators.ia.losses import BetaSchedule
from emulators.ia.network import ModelConfig
from emulators.ia.train import EmulatorSettings, train_emulator
from emulators.trainer import TrainConfig
from tests.emulators.ia.numpy_forward import artifact_passes
from tests.emulators.ia.synthetic import noise_sd, truth, write_dataset

SMALL = ModelConfig(hidden=64, n_blocks=2, latent=64, dec_channels=[8, 16, 16])


def settings(members: int = 2, epochs: int = 60, seed: int = 0, **model: object) -> EmulatorSettings:
    return EmulatorSettings(
        members=members,
        model=replace(SMALL, **model),
        beta=BetaSchedule(warmup_epochs=20),
        train=TrainConfig(
            epochs=epochs, batch_size=64, lr=3e-3, warmup_epochs=5, patience=40, seed=seed, cpu_threads=1
        ),
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("emu")
    data = read_mocks(write_dataset(folder / "train.h5", 600, 8, seed=1))
    test = read_mocks(write_dataset(folder / "test.h5", 200, 8, seed=2))
    rows = np.arange(600)
    emulator, histories = train_emulator(data.subset(rows[:540]), data.subset(rows[540:]), settings())
    return emulator, histories, test, folder


def true_mean_and_sem(test) -> tuple[np.ndarray, np.ndarray]:
    mu = truth(test.params, test.r)
    sd = noise_sd(test.params, test.r)
    sd[:, 0] *= mu[:, 0]
    return mu, sd / np.sqrt(test.n_real)


def test_recovers_the_mean(trained) -> None:
    emulator, _, test, _ = trained
    mu, sem = true_mean_and_sem(test)
    err = np.median(np.abs(emulator.predict(test.params).mean - mu) / sem, axis=(0, 2))
    assert np.all(err <= 0.5), err


def test_recovers_the_noise_variance(trained) -> None:
    emulator, _, test, _ = trained
    _, sem = true_mean_and_sem(test)
    ratio = np.median(emulator.predict(test.params).aleatoric / sem**2, axis=(0, 2))
    assert np.all((ratio > 0.8) & (ratio < 1.25)), ratio
    # the aleatoric part is the variance of an n-realisation mean: 1/n exactly for ω, η
    two = emulator.predict(test.params[:20], n_realisations=4).aleatoric
    eight = emulator.predict(test.params[:20], n_realisations=8).aleatoric
    np.testing.assert_allclose(two[:, 1:] / eight[:, 1:], 2.0, rtol=1e-12)


def test_coverage_and_zscores_on_fresh_rows(trained) -> None:
    emulator, _, test, _ = trained
    summary = compute_metrics(emulator, test)["summary"]
    for name, m in summary.items():
        assert 0.60 <= m["coverage_68"] <= 0.76, (name, m)
        assert 0.90 <= m["coverage_95"] <= 0.99, (name, m)
        assert abs(m["z_mean"]) < 0.2 and 0.8 < m["z_std"] < 1.25, (name, m)


def test_epistemic_variance_grows_outside_the_box(trained) -> None:
    emulator, _, test, _ = trained
    rng = np.random.default_rng(3)
    outside = rng.uniform(1.4, 2.0, size=(200, 3)) * rng.choice([-1.0, 1.0], size=(200, 3))
    inside = emulator.predict(test.params)
    far = emulator.predict(outside)
    ratio = np.median(far.epistemic / far.aleatoric, axis=(0, 2)) / np.median(
        inside.epistemic / inside.aleatoric, axis=(0, 2)
    )
    assert np.all(ratio > 10), ratio


def test_artifact_round_trip_is_exact(trained, tmp_path: Path) -> None:
    emulator, _, test, _ = trained
    write_artifact(emulator, tmp_path)
    loaded = load_emulator(tmp_path)
    a, b = emulator.predict(test.params), loaded.predict(test.params)
    for field in ("mean", "aleatoric", "epistemic"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    names = set(loaded.net.state_dict())
    assert "member0.encoder.0.weight" in names and "member1.decoders.2.head.bias" in names


def test_weights_are_stored_in_float16_with_nothing_lost(trained, tmp_path: Path) -> None:
    """Training rounds the network to float16 values: the stored half-size tensors are the network's."""
    from safetensors.torch import load_file

    emulator, *_ = trained
    write_artifact(emulator, tmp_path)
    assert json.loads((tmp_path / "emulator.json").read_text())["weights"]["dtype"] == "float16"
    stored = load_file(tmp_path / "weights.safetensors")
    state = emulator.net.state_dict()
    floats = [k for k, t in stored.items() if t.is_floating_point()]
    assert floats and all(stored[k].dtype == torch.float16 for k in floats)
    assert all(torch.equal(stored[k].float(), state[k].cpu()) for k in floats)


def test_artifact_json_alone_rebuilds_the_forward_pass(trained, tmp_path: Path) -> None:
    emulator, _, test, _ = trained
    write_artifact(emulator, tmp_path)
    ours = artifact_passes(tmp_path, test.params)
    theirs = emulator.passes(test.params)
    assert ours.shape == theirs.shape == (2, 200, 2, 3, 8)
    assert_same_passes(ours, theirs, emulator.scalers.scale)


def assert_same_passes(ours: np.ndarray, theirs: np.ndarray, scale: np.ndarray) -> None:
    """Means within 1e-5 of the target's scale (they cross zero), variances within 1e-5 relative."""
    assert np.all(np.abs(ours[:, :, 0] - theirs[:, :, 0]) <= 1e-5 * scale), np.abs(ours - theirs).max()
    np.testing.assert_allclose(ours[:, :, 1], theirs[:, :, 1], rtol=1e-5)


@pytest.mark.parametrize("model", [{"norm": "batch", "activation": "leaky_relu"}, {"activation": "gelu"}])
def test_json_forward_spec_for_other_architectures(trained, tmp_path: Path, model: dict) -> None:
    _, _, test, folder = trained
    data = read_mocks(folder / "train.h5")
    emulator, _ = train_emulator(
        data.subset(np.arange(100)), data.subset(np.arange(100, 130)), settings(members=1, epochs=3, **model)
    )
    write_artifact(emulator, tmp_path)
    assert_same_passes(
        artifact_passes(tmp_path, test.params), emulator.passes(test.params), emulator.scalers.scale
    )


def test_same_seed_same_weights(trained) -> None:
    _, _, _, folder = trained
    data = read_mocks(folder / "train.h5")
    tr, va = data.subset(np.arange(100)), data.subset(np.arange(100, 130))
    runs = [
        train_emulator(tr, va, settings(members=2, epochs=3, seed=s))[0].net.state_dict() for s in (5, 5, 6)
    ]
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not torch.equal(runs[0]["member0.encoder.0.weight"], runs[2]["member0.encoder.0.weight"])
    assert not torch.equal(runs[0]["member0.encoder.0.weight"], runs[0]["member1.encoder.0.weight"])


def test_mc_dropout_gives_reproducible_epistemic_variance(trained) -> None:
    _, _, test, folder = trained
    data = read_mocks(folder / "train.h5")
    emulator, _ = train_emulator(
        data.subset(np.arange(200)),
        data.subset(np.arange(200, 240)),
        replace(settings(members=1, epochs=5), epistemic="mc_dropout", mc_samples=8),
    )
    a = emulator.predict(test.params, mc_seed=1)
    b = emulator.predict(test.params, mc_seed=1)
    c = emulator.predict(test.params, mc_seed=2)
    assert np.array_equal(a.epistemic, b.epistemic) and not np.array_equal(a.epistemic, c.epistemic)
    assert np.all(a.epistemic > 0)
    # prediction leaves the network in eval mode: a plain forward pass is deterministic afterwards
    x = torch.zeros(3, 3)
    assert torch.equal(emulator.net(x), emulator.net(x))


@pytest.mark.gpu
def test_cuda_training_and_prediction_agree_with_cpu(trained) -> None:
    _, _, test, folder = trained
    data = read_mocks(folder / "train.h5")
    config = settings(members=2, epochs=3)
    config.train = replace(config.train, device="cuda")
    emulator, _ = train_emulator(data.subset(np.arange(200)), data.subset(np.arange(200, 240)), config)
    assert emulator.device.type == "cuda"
    on_gpu = emulator.passes(test.params)
    emulator.net.cpu()
    assert_same_passes(on_gpu, emulator.passes(test.params), emulator.scalers.scale)
