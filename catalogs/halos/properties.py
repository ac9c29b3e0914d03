"""Halo properties of friends-of-friends groups: the columns of a halotools halo table.

Mass convention: halo_mvir is the FoF mass, N_particles x particle mass (Msun/h), taken as the virial mass.
halo_rvir (Mpc/h, comoving) is the radius that encloses halo_mvir at the virial overdensity of halotools'
default convention ('vir': the Bryan & Norman 1998 overdensity, 18 pi^2 + 82 x - 39 x^2 times the critical
density with x = Omega_m(z) - 1, i.e. 102 rho_crit = 331 rho_mean at z = 0 for Planck18). halo_nfw_conc
is the Diemer & Joyce (2019) c_vir(M_vir, z) from colossus. Positions are periodic-aware centres of mass
in [0, Lbox) Mpc/h, velocities the mean particle velocity (km/s), and the shapes come from the inertia
tensor of the members (`catalogs.halos.shapes`).
"""

from __future__ import annotations

import numpy as np

from catalogs.halos.fof import describe_groups
from catalogs.halos.nbody import Snapshot, set_colossus_cosmology
from catalogs.halos.shapes import inertia_tensors, principal_axes

CONCENTRATION_MODEL = "diemer19"


def virial_radius(mass: np.ndarray, redshift: float) -> np.ndarray:
    """r_vir in comoving Mpc/h of masses in Msun/h (halotools' 'vir' convention, astropy's Planck18)."""
    from astropy.cosmology import Planck18
    from halotools.empirical_models import halo_mass_to_halo_radius

    return np.asarray(halo_mass_to_halo_radius(np.asarray(mass, dtype=np.float64), Planck18, redshift, "vir"))


def concentration(mass: np.ndarray, redshift: float) -> np.ndarray:
    """c_vir of masses in Msun/h from colossus' Diemer & Joyce (2019) model (evaluated per unique mass)."""
    from colossus.halo import concentration as colossus_concentration

    set_colossus_cosmology()
    unique, inverse = np.unique(np.asarray(mass, dtype=np.float64), return_inverse=True)
    values = colossus_concentration.concentration(unique, "vir", redshift, model=CONCENTRATION_MODEL)
    return np.atleast_1d(values)[inverse]


def halo_columns(snapshot: Snapshot, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The halo table (one row per FoF group labelled 0..G-1 in `labels`) as a dict of columns."""
    groups = describe_groups(snapshot.positions, labels, snapshot.box)
    lengths, axes = principal_axes(inertia_tensors(groups.offsets, groups.sizes))
    velocity = groups.mean(snapshot.velocities[groups.members].astype(np.float64))
    mass = groups.sizes * snapshot.particle_mass
    ids = np.arange(1, len(mass) + 1, dtype=np.int64)
    columns: dict[str, np.ndarray] = {
        "halo_id": ids,
        "halo_upid": np.full(len(ids), -1, dtype=np.int64),
        "halo_hostid": ids.copy(),
        "halo_npart": groups.sizes.astype(np.int64),
        "halo_mvir": mass,
        "halo_rvir": virial_radius(mass, snapshot.redshift),
        "halo_nfw_conc": concentration(mass, snapshot.redshift),
        "halo_b_to_a": lengths[:, 1] / lengths[:, 0],
        "halo_c_to_a": lengths[:, 2] / lengths[:, 0],
    }
    for i, axis in enumerate("xyz"):
        columns[f"halo_{axis}"] = groups.centres[:, i]
        columns[f"halo_v{axis}"] = velocity[:, i]
    for k, name in enumerate("ABC"):
        columns[f"halo_axis{name}_length"] = lengths[:, k]
        for i, axis in enumerate("xyz"):
            columns[f"halo_axis{name}_{axis}"] = axes[:, k, i]
    return columns
