"""The embedded particle-mesh N-body simulation (docs/ARCHITECTURE.md section 4.2).

Gaussian initial conditions from colossus' linear P(k) (Eisenstein & Hu, sigma8-normalised) for astropy's
Planck18 cosmology, a 2LPT start at `z_init`, then kick-drift-kick PM steps to z = 0 with the growth-matched
kick and drift factors of FastPM (Feng et al. 2016), which make the linear growth exact for any number of
steps. Forces: cloud-in-cell paint and read on a mesh `mesh_factor` times finer than the particle lattice,
the exact 1/k^2 Green's function and FastPM's 4-point finite-difference gradient. The arrays live in torch
(imported lazily) on the CPU or a CUDA device: one code path for both. Memory is linear in the particle
count and the mesh size (a few arrays of mesh^3 floats), never quadratic.

Units: comoving Mpc/h, Msun/h, peculiar velocities in km/s. Time is the scale factor a; internally the
momentum is p = a^2 dx/dt with t in units of 1/H0, and radiation is neglected in the background (E(a)^2 =
Omega_m a^-3 + Omega_Lambda; a < 0.3% change of E at z = 19).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.integrate import quad

from common.device import resolve_device
from common.progress import progress

if TYPE_CHECKING:
    import torch

COSMOLOGY_NAME = "iaemu_planck18"
RHO_CRIT0 = 2.77536627e11  # critical density today in (Msun/h) / (Mpc/h)^3


@dataclass(frozen=True)
class NBodyConfig:
    """A PM run: `box` (Mpc/h) holding `n_side`^3 particles, a mesh of `mesh_factor * n_side` cells a side."""

    box: float
    n_side: int
    mesh_factor: int = 2
    z_init: float = 19.0
    n_steps: int = 40

    @property
    def particle_mass(self) -> float:
        """Mass of one particle in Msun/h (mean matter density times the box volume over the count)."""
        return RHO_CRIT0 * planck18_params()["Om0"] * (self.box / self.n_side) ** 3


@dataclass
class Snapshot:
    """Particles at one redshift: positions (N, 3) in [0, box) Mpc/h, peculiar velocities (N, 3) km/s."""

    positions: np.ndarray
    velocities: np.ndarray
    redshift: float
    box: float
    particle_mass: float


@functools.cache
def planck18_params() -> dict[str, float]:
    """astropy's Planck18 as colossus parameters (flat LCDM, no radiation; sigma8 and n_s from its meta)."""
    from astropy.cosmology import Planck18

    return {
        "flat": True,
        "H0": float(Planck18.H0.value),
        "Om0": float(Planck18.Om0),
        "Ob0": float(Planck18.Ob0),
        "sigma8": float(Planck18.meta["sigma8"]),
        "ns": float(Planck18.meta["n"]),
        "Tcmb0": float(Planck18.Tcmb0.value),
        "relspecies": False,
    }


def set_colossus_cosmology() -> Any:
    """Make the Planck18 cosmology colossus' current one (no files written) and return it."""
    from colossus.cosmology import cosmology

    current = cosmology.current_cosmo
    if current is None or current.name != COSMOLOGY_NAME:
        current = cosmology.setCosmology(COSMOLOGY_NAME, params=planck18_params(), persistence="")
    return current


class Growth:
    """Linear growth of flat LCDM: D1(a) (D1(1) = 1), f1 = dlnD1/dlna and the FastPM factors G_p, G_f."""

    def __init__(self, omega_m: float) -> None:
        self.om = omega_m
        self._norm = self._unnormalised(1.0)

    def efunc(self, a: float) -> float:
        """H(a)/H0."""
        return float(np.sqrt(self.om / a**3 + 1.0 - self.om))

    def _integral(self, a: float) -> float:
        return quad(lambda x: (x * self.efunc(x)) ** -3, 0.0, a, epsabs=0, epsrel=1e-10)[0]

    def _unnormalised(self, a: float) -> float:
        return 2.5 * self.om * self.efunc(a) * self._integral(a)

    def d1(self, a: float) -> float:
        """Growth factor, 1 today."""
        return self._unnormalised(a) / self._norm

    def d1_prime(self, a: float) -> float:
        """dD1/da."""
        e = self.efunc(a)
        de = -1.5 * self.om / (a**4 * e)
        return 2.5 * self.om * (de * self._integral(a) + e * (a * e) ** -3) / self._norm

    def f1(self, a: float) -> float:
        """dlnD1/dlna."""
        return a * self.d1_prime(a) / self.d1(a)

    def omega_m(self, a: float) -> float:
        """Omega_m(a)."""
        return self.om / (a**3 * self.efunc(a) ** 2)

    def gp(self, a: float) -> float:
        """G_p = a^3 E dD1/da: the momentum of a unit linear displacement."""
        return a**3 * self.efunc(a) * self.d1_prime(a)

    def gf(self, a: float) -> float:
        """G_f = 1.5 Omega_m D1: the force of a unit linear displacement."""
        return 1.5 * self.om * self.d1(a)


def _wavenumbers(n: int, box: float, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """k_x, k_y, k_z (h/Mpc) of an rfftn layout, shaped to broadcast against (n, n, n//2+1)."""
    import torch

    k = torch.fft.fftfreq(n, d=box / n, device=device) * 2 * np.pi
    kz = torch.fft.rfftfreq(n, d=box / n, device=device) * 2 * np.pi
    return k.view(n, 1, 1).float(), k.view(1, n, 1).float(), kz.view(1, 1, -1).float()


def linear_field_k(config: NBodyConfig, seed: int, device: str) -> torch.Tensor:
    """The z = 0 linear density contrast on the particle grid, as an rfftn array (DFT convention).

    White noise from numpy's PCG64(seed) (the same numbers on every device) coloured by sqrt(P(k) N^3 / V).
    """
    import torch

    n = config.n_side
    noise = np.random.Generator(np.random.PCG64(seed)).standard_normal((n, n, n), dtype=np.float32)
    delta_k = torch.fft.rfftn(torch.from_numpy(noise).to(device))
    del noise
    kx, ky, kz = _wavenumbers(n, config.box, device)
    kmag = torch.sqrt(kx**2 + ky**2 + kz**2)
    cosmo = set_colossus_cosmology()
    k_table = np.logspace(
        np.log10(np.pi / config.box / 2), np.log10(np.sqrt(3) * np.pi * n / config.box * 1.01), 512
    )
    p_table = cosmo.matterPowerSpectrum(k_table, 0.0)
    logp = np.interp(np.log(kmag.clamp_min(k_table[0]).cpu().numpy()), np.log(k_table), np.log(p_table))
    amplitude = torch.from_numpy(np.sqrt(np.exp(logp) * n**3 / config.box**3).astype(np.float32)).to(device)
    amplitude[0, 0, 0] = 0.0
    return delta_k * amplitude


def _inverse_laplacian(field_k: torch.Tensor, n: int, box: float, scale: float = 1.0) -> torch.Tensor:
    """-scale f_k / k^2 (the k = 0 mode set to zero): scale * nabla^-2 f in Fourier space."""
    kx, ky, kz = _wavenumbers(n, box, field_k.device)
    k2 = kx**2 + ky**2 + kz**2
    k2[0, 0, 0] = float("inf")
    return field_k * (-scale / k2)


def _gradients(potential_k: torch.Tensor, n: int, box: float, *, exact: bool = False) -> list[torch.Tensor]:
    """Real-space d_i g (i = x, y, z) of the rfftn array g_k, zero at the Nyquist frequency.

    `exact`: the kernel i k (for displacements). Otherwise FastPM's 4-point finite difference
    i (8 sin(k h) - sin(2 k h)) / (6 h), which vanishes smoothly at Nyquist: with a mesh finer than the
    particle lattice, an exact i k would turn the lattice's aliased images into spurious large-scale forces.
    """
    import torch

    h = box / n
    grads = []
    for k in _wavenumbers(n, box, potential_k.device):
        if exact:
            kernel = k * (k.abs() < np.pi / h * (1 - 1e-6))
        else:
            kernel = (8 * torch.sin(k * h) - torch.sin(2 * k * h)) / (6 * h)
        grads.append(torch.fft.irfftn(potential_k * (1j * kernel), s=(n, n, n)))
    return grads


def lpt_displacements(delta_k: torch.Tensor, config: NBodyConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """First- and second-order Lagrangian displacements (N, 3) in Mpc/h for D1 = 1.

    x = q + D1 psi1 + D2 psi2 with psi1 = -grad phi1, nabla^2 phi1 = delta, psi2 = grad phi2,
    nabla^2 phi2 = sum_{i<j} (phi1_ii phi1_jj - phi1_ij^2) and D2 = -3/7 D1^2 Omega_m(a)^(-1/143).
    """
    import torch

    n = config.n_side
    phi1_k = _inverse_laplacian(delta_k, n, config.box)
    psi1 = -torch.stack(_gradients(phi1_k, n, config.box, exact=True), dim=-1)
    ks = _wavenumbers(n, config.box, delta_k.device)

    def hessian(i: int, j: int) -> torch.Tensor:  # phi1_ij
        return torch.fft.irfftn(-ks[i] * ks[j] * phi1_k, s=(n, n, n))

    diag = [hessian(i, i) for i in range(3)]
    source = diag[0] * diag[1] + diag[0] * diag[2] + diag[1] * diag[2]
    del diag
    for i, j in ((0, 1), (0, 2), (1, 2)):
        source -= hessian(i, j) ** 2
    phi2_k = _inverse_laplacian(torch.fft.rfftn(source), n, config.box)
    del source
    psi2 = torch.stack(_gradients(phi2_k, n, config.box, exact=True), dim=-1)
    return psi1.reshape(-1, 3), psi2.reshape(-1, 3)


def _cic_corners(pos: torch.Tensor, n: int, box: float) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (flat cell index, weight) for the 8 cloud-in-cell corners of each particle."""
    import torch

    grid = pos * (n / box)
    base = torch.floor(grid)
    frac = grid - base
    base = base.long()
    strides = (n * n, n, 1)
    index = [[(base[:, a] + o) % n * strides[a] for o in (0, 1)] for a in range(3)]
    weight = [[1.0 - frac[:, a], frac[:, a]] for a in range(3)]
    del base, frac, grid
    for ox, oy in itertools.product((0, 1), repeat=2):
        index_xy = index[0][ox] + index[1][oy]
        weight_xy = weight[0][ox] * weight[1][oy]
        for oz in (0, 1):
            yield index_xy + index[2][oz], weight_xy * weight[2][oz]


def paint(pos: torch.Tensor, n: int, box: float) -> torch.Tensor:
    """Cloud-in-cell density contrast (n, n, n) of equal-mass particles at `pos` (Mpc/h)."""
    import torch

    mesh = torch.zeros(n**3, dtype=pos.dtype, device=pos.device)
    for index, weight in _cic_corners(pos, n, box):
        mesh.index_put_((index,), weight, accumulate=True)
    return (mesh * (n**3 / pos.shape[0]) - 1.0).view(n, n, n)


def pm_forces(pos: torch.Tensor, config: NBodyConfig, omega_m: float) -> torch.Tensor:
    """F = -grad phi at the particles (CIC paint and read), with nabla^2 phi = 1.5 Omega_m delta (H0 = 1)."""
    import torch

    n = config.mesh_factor * config.n_side
    phi_k = _inverse_laplacian(torch.fft.rfftn(paint(pos, n, config.box)), n, config.box, 1.5 * omega_m)
    potential_gradient = [g.reshape(-1) for g in _gradients(phi_k, n, config.box)]
    del phi_k
    forces = [torch.zeros_like(pos[:, 0]) for _ in range(3)]
    for index, weight in _cic_corners(pos, n, config.box):
        for axis in range(3):
            forces[axis] -= weight * potential_gradient[axis][index]
    return torch.stack(forces, dim=-1)


def _lattice(n: int, box: float, device: str) -> torch.Tensor:
    import torch

    q = (torch.arange(n, device=device, dtype=torch.float32) + 0.5) * (box / n)
    return torch.stack(torch.meshgrid(q, q, q, indexing="ij"), dim=-1).reshape(-1, 3)


def _snapshot(pos: torch.Tensor, mom: torch.Tensor, a: float, config: NBodyConfig) -> Snapshot:
    import torch

    positions = torch.remainder(pos, config.box).cpu().numpy()
    positions[positions >= config.box] = 0.0  # float rounding of tiny negatives
    velocities = (mom * (100.0 / a)).cpu().numpy()  # v = a dx/dt = p / a, in units of H0 Mpc/h = 100 km/s
    return Snapshot(positions, velocities, 1.0 / a - 1.0, config.box, config.particle_mass)


def initial_state(
    config: NBodyConfig, seed: int, device: str, growth: Growth
) -> tuple[torch.Tensor, torch.Tensor]:
    """2LPT positions (N, 3) in [0, box) Mpc/h and momenta p = a^2 dx/dt (H0 = 1) at z_init."""
    import torch

    a = 1.0 / (1.0 + config.z_init)
    psi1, psi2 = lpt_displacements(linear_field_k(config, seed, device), config)
    d1 = growth.d1(a)
    d2 = -3.0 / 7.0 * d1**2 * growth.omega_m(a) ** (-1.0 / 143.0)
    f2 = 2.0 * growth.omega_m(a) ** (6.0 / 11.0)
    pos = torch.remainder(_lattice(config.n_side, config.box, device) + d1 * psi1 + d2 * psi2, config.box)
    mom = (a**2 * growth.efunc(a)) * (d1 * growth.f1(a) * psi1 + d2 * f2 * psi2)
    return pos, mom


@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """On CUDA, use torch's deterministic kernels (sorted scatter-adds) so a seed gives the same numbers."""
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    if device.type == "cuda":
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def simulate(
    config: NBodyConfig,
    *,
    seed: int = 0,
    device: str = "auto",
    quiet: bool = False,
    keep_initial: bool = False,
) -> tuple[Snapshot, Snapshot | None]:
    """Run the PM simulation from z_init to z = 0; return (final, initial or None) snapshots."""
    import torch

    dev = resolve_device(device)
    growth = Growth(planck18_params()["Om0"])
    steps = np.linspace(1.0 / (1.0 + config.z_init), 1.0, config.n_steps + 1)
    with _deterministic(dev):
        pos, mom = initial_state(config, seed, dev, growth)
        initial = _snapshot(pos, mom, steps[0], config) if keep_initial else None
        forces = pm_forces(pos, config, growth.om)
        pairs = zip(steps[:-1], steps[1:], strict=True)
        for a0, a1 in progress(pairs, total=config.n_steps, desc="PM steps", quiet=quiet):
            ah = 0.5 * (a0 + a1)
            mom += forces * ((growth.gp(ah) - growth.gp(a0)) / growth.gf(a0))
            pos = torch.remainder(pos + mom * ((growth.d1(a1) - growth.d1(a0)) / growth.gp(ah)), config.box)
            forces = pm_forces(pos, config, growth.om)
            mom += forces * ((growth.gp(a1) - growth.gp(ah)) / growth.gf(a1))
        return _snapshot(pos, mom, 1.0, config), initial
