"""Small halo catalogs that the mock tests build themselves (real halotools catalogs, made-up halos)."""

from __future__ import annotations

import numpy as np
from halotools.sim_manager import UserSuppliedHaloCatalog

RHO_M = 2.775e11 * 0.31  # mean matter density, h^2 Msun / Mpc^3 (comoving)
DELTA_VIR = 330.0


def virial_radius(mass: np.ndarray) -> np.ndarray:
    """r_vir (Mpc/h) of halos of `mass` (Msun/h) at an overdensity of DELTA_VIR times the mean density."""
    return (3 * mass / (4 * np.pi * DELTA_VIR * RHO_M)) ** (1 / 3)


def halo_catalog(
    positions: np.ndarray,
    masses: np.ndarray,
    Lbox: float,
    seed: int = 0,
    particle_mass: float = 1e9,
    **overrides: np.ndarray,
) -> UserSuppliedHaloCatalog:
    """A host-halo catalog at `positions` (Mpc/h) with `masses` (Msun/h), random unit major axes."""
    rng = np.random.default_rng(seed)
    n = len(masses)
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    ids = np.arange(1, n + 1)
    columns = {
        "halo_id": ids,
        "halo_hostid": ids,
        "halo_upid": np.full(n, -1),
        "halo_x": positions[:, 0],
        "halo_y": positions[:, 1],
        "halo_z": positions[:, 2],
        "halo_vx": rng.normal(0, 300, n),
        "halo_vy": rng.normal(0, 300, n),
        "halo_vz": rng.normal(0, 300, n),
        "halo_mvir": masses,
        "halo_rvir": virial_radius(masses),
        "halo_nfw_conc": rng.uniform(4, 10, n),
        "halo_axisA_x": axes[:, 0],
        "halo_axisA_y": axes[:, 1],
        "halo_axisA_z": axes[:, 2],
    }
    columns.update(overrides)
    return UserSuppliedHaloCatalog(Lbox=Lbox, particle_mass=particle_mass, redshift=0.0, **columns)


def random_box(n_halos: int = 400, Lbox: float = 60.0, seed: int = 0) -> UserSuppliedHaloCatalog:
    """Halos uniform in a periodic box of side `Lbox` (Mpc/h), masses log-uniform in [1e12, 1e14.5] Msun/h."""
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, Lbox, (n_halos, 3))
    masses = 10 ** rng.uniform(12.0, 14.5, n_halos)
    return halo_catalog(positions, masses, Lbox, seed=seed)
