"""The PM simulation: linear growth, initial power, reproducibility."""

from collections.abc import Iterator

import numpy as np
import pytest

from catalogs.halos.nbody import (
    Growth,
    NBodyConfig,
    linear_field_k,
    planck18_params,
    set_colossus_cosmology,
    simulate,
)
from common.errors import InputError
from tests.catalogs.halos.torch_threads import one_torch_thread


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


def measured_power(positions: np.ndarray, box: float, n_mesh: int, k_edges: np.ndarray) -> np.ndarray:
    """Binned P(k) (Mpc/h)^3 of particles: numpy cloud-in-cell density, FFT, mean |delta_k|^2 per shell."""
    grid = positions * (n_mesh / box)
    base = np.floor(grid).astype(np.int64)
    frac = grid - base
    mesh = np.zeros(n_mesh**3)
    for corner in np.ndindex(2, 2, 2):
        weight = np.prod([frac[:, i] if corner[i] else 1 - frac[:, i] for i in range(3)], axis=0)
        index = np.ravel_multi_index(
            tuple((base[:, i] + corner[i]) % n_mesh for i in range(3)), (n_mesh,) * 3
        )
        mesh += np.bincount(index, weights=weight, minlength=n_mesh**3)
    delta = mesh.reshape((n_mesh,) * 3) / mesh.mean() - 1
    power = np.abs(np.fft.rfftn(delta)) ** 2 * box**3 / n_mesh**6
    return shell_average(power, box, n_mesh, k_edges)


def shell_average(values: np.ndarray, box: float, n: int, k_edges: np.ndarray) -> np.ndarray:
    """Mean of an rfftn-layout array over the shells k_edges[i] <= |k| < k_edges[i+1] (h/Mpc)."""
    k = 2 * np.pi * np.fft.fftfreq(n, d=box / n)
    kz = 2 * np.pi * np.fft.rfftfreq(n, d=box / n)
    kmag = np.sqrt(k[:, None, None] ** 2 + k[None, :, None] ** 2 + kz[None, None, :] ** 2)
    shell = np.digitize(kmag.ravel(), k_edges) - 1
    inside = (shell >= 0) & (shell < len(k_edges) - 1)
    sums = np.bincount(shell[inside], weights=values.ravel()[inside], minlength=len(k_edges) - 1)
    return sums / np.bincount(shell[inside], minlength=len(k_edges) - 1)


def test_growth_factor_matches_colossus() -> None:
    growth = Growth(planck18_params()["Om0"])
    cosmo = set_colossus_cosmology()
    for a in (0.05, 0.2, 0.5, 0.8, 1.0):
        z = 1 / a - 1
        assert growth.d1(a) == pytest.approx(cosmo.growthFactor(z), rel=1e-4)
        # f = dlnD/dlna = -(1 + z) dlnD/dz
        assert growth.f1(a) == pytest.approx(
            -(1 + z) * cosmo.growthFactor(z, derivative=1) / cosmo.growthFactor(z), rel=1e-3
        )


def test_initial_field_has_the_linear_power_spectrum() -> None:
    config = NBodyConfig(box=200.0, n_side=64)
    delta_k = linear_field_k(config, seed=4, device="cpu").numpy()
    n = config.n_side
    edges = np.linspace(0.1, 0.8, 8)
    power = shell_average(np.abs(delta_k) ** 2 * config.box**3 / n**6, config.box, n, edges)
    centres = shell_average(np.ones_like(delta_k.real), config.box, n, edges)  # 1: every shell has modes
    k_mean = shell_average(
        np.broadcast_to(
            np.sqrt(
                sum(
                    np.meshgrid(
                        *(2 * np.pi * np.fft.fftfreq(n, d=config.box / n),) * 2,
                        2 * np.pi * np.fft.rfftfreq(n, d=config.box / n),
                        indexing="ij",
                    )[i]
                    ** 2
                    for i in range(3)
                )
            ),
            delta_k.shape,
        ),
        config.box,
        n,
        edges,
    )
    expected = set_colossus_cosmology().matterPowerSpectrum(k_mean, 0.0)
    assert np.all(centres == 1)
    # hundreds to thousands of modes per shell: the sampling scatter is a few per cent
    np.testing.assert_allclose(power / expected, 1.0, atol=0.08)


def test_large_scales_grow_as_linear_theory() -> None:
    """P(k, z=0) / P(k, z_init) of one realisation equals (D(0) / D(z_init))^2 within 3% at k < 0.05 h/Mpc."""
    config = NBodyConfig(box=1000.0, n_side=64, mesh_factor=2, z_init=19.0, n_steps=10)
    final, initial = simulate(config, seed=0, device="cpu", quiet=True, keep_initial=True)
    k_fundamental = 2 * np.pi / config.box
    edges = np.array([0.9, 3.0, 5.0, 7.95]) * k_fundamental  # three shells below 0.05 h/Mpc, ~900 modes
    assert edges[-1] < 0.05
    ratio = measured_power(final.positions, config.box, 128, edges) / measured_power(
        initial.positions, config.box, 128, edges
    )
    d_init = set_colossus_cosmology().growthFactor(config.z_init)  # colossus, independent of the PM code
    np.testing.assert_allclose(ratio * d_init**2, 1.0, atol=0.03)


def test_same_seed_same_particles_and_other_seed_differs() -> None:
    config = NBodyConfig(box=32.0, n_side=16, n_steps=5)
    first, _ = simulate(config, seed=7, device="cpu", quiet=True)
    again, _ = simulate(config, seed=7, device="cpu", quiet=True)
    other, _ = simulate(config, seed=8, device="cpu", quiet=True)
    np.testing.assert_array_equal(first.positions, again.positions)
    np.testing.assert_array_equal(first.velocities, again.velocities)
    assert np.abs(first.positions - other.positions).max() > 0.1
    assert np.all((first.positions >= 0) & (first.positions < config.box))
    # mass: the mean matter density of Planck18 times the volume per particle
    assert first.particle_mass == pytest.approx(2.775e11 * 0.3097 * (32.0 / 16) ** 3, rel=1e-3)


def test_cuda_without_a_device_is_refused() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(InputError, match="--device"):
        simulate(NBodyConfig(box=32.0, n_side=8), device="cuda")


@pytest.mark.gpu
def test_cuda_and_cpu_runs_agree() -> None:
    config = NBodyConfig(box=64.0, n_side=32, n_steps=10)
    cpu, _ = simulate(config, seed=1, device="cpu", quiet=True)
    gpu, _ = simulate(config, seed=1, device="cuda", quiet=True)
    offset = np.mod(gpu.positions - cpu.positions + 32.0, 64.0) - 32.0
    assert np.percentile(np.abs(offset), 99) < 0.05
