"""The JAX port of the emulator against the torch emulator, from the artifact alone."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from emulators.ia.artifact import write_artifact
from emulators.ia.data import Scalers
from emulators.ia.emulator import TorchEmulator
from emulators.ia.network import Ensemble, IAEmuNet, ModelConfig
from inference.ia.emulator_jax import load_jax_emulator

NAMES = ["mu_cen", "mu_sat", "logMmin", "sigma_logM", "logM0", "logM1", "alpha"]
LO = np.array([-1.0, -1.0, 11.0, 0.2, 11.0, 12.0, 0.8])
HI = np.array([1.0, 1.0, 15.0, 0.8, 14.0, 15.0, 1.2])


def make_artifact(
    directory: Path,
    cfg: ModelConfig,
    members: int,
    *,
    epistemic: str = "ensemble",
    seed: int = 0,
    mc_samples: int = 8,
) -> TorchEmulator:
    """An untrained emulator with randomised weights, norms and scalers, written as an artifact."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = Ensemble(cfg, [IAEmuNet(cfg) for _ in range(members)])
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if name.endswith("running_mean"):
                tensor.copy_(torch.randn_like(tensor) * 0.3)
            elif name.endswith("running_var"):
                tensor.copy_(torch.rand_like(tensor) + 0.5)
            elif tensor.is_floating_point():
                tensor.add_(0.1 * torch.randn_like(tensor))
    net.eval()
    edges = np.logspace(-1, 1.2, cfg.n_bins + 1)
    center = np.stack(
        [
            np.log(30.0 * (0.5 * (edges[1:] + edges[:-1])) ** -1.7),
            0.05 * np.ones(cfg.n_bins),
            0.01 * np.ones(cfg.n_bins),
        ]
    )
    scale = rng.uniform(0.05, 0.5, size=(3, cfg.n_bins))
    emu = TorchEmulator(
        net,
        Scalers(LO, HI, center, scale),
        NAMES,
        0.5 * (edges[1:] + edges[:-1]),
        edges,
        n_real=4,
        epistemic=epistemic,
        mc_samples=mc_samples,
    )
    directory.mkdir(parents=True, exist_ok=True)
    write_artifact(emu, directory)
    return emu


def assert_close(got: np.ndarray, ref: np.ndarray, what: str) -> None:
    """float32 agreement: 1e-5 relative, with an absolute floor of 1e-6 of the statistic's largest value
    (a value that crosses zero keeps the float32 rounding of its terms, ~1e-7 of their size)."""
    for s in range(ref.shape[-2]):
        g, r = got[..., s, :], ref[..., s, :]
        np.testing.assert_allclose(
            g, r, rtol=1e-5, atol=1e-6 * np.abs(r).max(), err_msg=f"{what}, statistic {s}"
        )


CONFIGS = {
    "layer-silu": ModelConfig(hidden=32, n_blocks=2, latent=32, dec_channels=[8, 16, 16]),
    "batch-leaky": ModelConfig(
        hidden=32, n_blocks=1, latent=16, dec_channels=[8, 8], norm="batch", activation="leaky_relu", kernel=5
    ),
    "none-gelu": ModelConfig(
        hidden=16, n_blocks=1, latent=16, dec_channels=[4, 8], norm="none", activation="gelu"
    ),
}


@pytest.mark.parametrize("arch", list(CONFIGS))
def test_jax_matches_torch_in_float32(tmp_path: Path, arch: str) -> None:
    emu = make_artifact(tmp_path / "emu", CONFIGS[arch], members=3)
    jemu = load_jax_emulator(tmp_path / "emu")
    theta = np.random.default_rng(1).uniform(LO, HI, size=(64, 7))
    ref = emu.predict(theta)
    got = jemu.predict_batch(jnp.asarray(theta, dtype=jnp.float32))
    assert np.asarray(got.mean).dtype == np.float32
    ref_passes = emu.passes(theta)  # (K, N, 2, S, B)
    got_passes = np.asarray(jax.jit(jax.vmap(jemu.passes))(jnp.asarray(theta, dtype=jnp.float32))).swapaxes(
        0, 1
    )
    assert_close(got_passes, ref_passes, "per-member outputs")
    for name in ("mean", "aleatoric", "epistemic"):
        assert_close(np.asarray(getattr(got, name)), getattr(ref, name), name)
    # xi is positive (log-normal moments): plain relative agreement, no floor needed
    for name in ("mean", "aleatoric"):
        np.testing.assert_allclose(np.asarray(getattr(got, name))[:, 0], getattr(ref, name)[:, 0], rtol=1e-5)


def test_mc_dropout_port_has_torch_statistics(tmp_path: Path) -> None:
    """MC dropout: the masks differ from torch's, but the pass mean and spread agree within MC error."""
    cfg = ModelConfig(hidden=32, n_blocks=1, latent=16, dec_channels=[8, 8], dropout=0.2)
    emu = make_artifact(tmp_path / "emu", cfg, members=1, epistemic="mc_dropout", mc_samples=400)
    jemu = load_jax_emulator(tmp_path / "emu", mc_seed=3)
    theta = np.random.default_rng(2).uniform(LO, HI, size=(3, 7))
    ref = emu.passes(theta, mc_seed=5)[:, :, 0]  # (K, N, S, B) means in transformed space
    got = np.asarray(jax.jit(jax.vmap(jemu.passes))(jnp.asarray(theta, jnp.float32)))[:, :, 0].swapaxes(0, 1)
    k = ref.shape[0]
    spread = ref.std(axis=0)
    assert np.all(spread > 0)  # dropout is active in both
    z = (got.mean(axis=0) - ref.mean(axis=0)) / (spread * np.sqrt(2.0 / k))
    assert np.abs(z).max() < 5.0
    # the ratio of two sds of k Gaussian draws each has a relative sd of about 1/sqrt(k): 5 of them, as above
    np.testing.assert_allclose(got.std(axis=0), spread, rtol=5 / np.sqrt(k))
    # the JAX masks are fixed: the same θ gives the same prediction, so the likelihood is smooth in θ
    again = np.asarray(jax.jit(jemu.passes)(jnp.asarray(theta[0], jnp.float32)))[:, 0]
    np.testing.assert_array_equal(again, got[:, 0])
