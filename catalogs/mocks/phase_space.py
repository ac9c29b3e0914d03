"""Where a halo's satellites sit: the satellite phase spaces of docs/ARCHITECTURE.md 4.1.

- ``nfw``: halotools' ``NFWPhaseSpace``: NFW radii about the halo centre, isotropic directions. A central's
  orientation then says nothing about where its satellites are.
- ``triaxial``: the same NFW draws, each satellite's offset from its halo centre then mapped into the halo's
  own ellipsoid: along the catalog's axes A, B, C it is scaled by (1, b/a, c/a) (b/a c/a)^(-1/3), which keeps
  the volume, so the satellites trace the halo's shape and a central aligned with its halo is aligned with
  its satellites. Needs the axes A and B (C = A × B) and ``halo_b_to_a``, ``halo_c_to_a``. Velocities stay
  isotropic (the statistics here use positions only). With an elongation p (default 1) the ellipsoid's axis
  ratios are the halo's raised to p: satellites more (p > 1) or less elongated than the halo's mass, as
  subhalos are found more elongated than the mass.
- ``subhalo``: halotools' ``SubhaloPhaseSpace``, the anchors' recipe (IAEmu, Van Alfen et al. 2024):
  satellites inherit the positions and velocities of their host's subhalos, in order of ``halo_mpeak``;
  needs a catalog with subhalos (``halo_upid`` ≠ -1).

Lengths in comoving Mpc/h.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from common.errors import InputError, check_choice

SatelliteProfile = Literal["nfw", "triaxial", "subhalo"]

TRIAXIAL_COLUMNS = ("halo_axisA_x", "halo_axisA_y", "halo_axisA_z", "halo_axisB_x", "halo_axisB_y",
                    "halo_axisB_z", "halo_b_to_a", "halo_c_to_a")
SUBHALO_COLUMNS = ("halo_mpeak", "halo_mvir_host_halo", "halo_x_host_halo", "halo_y_host_halo",
                   "halo_z_host_halo", "halo_vx_host_halo", "halo_vy_host_halo", "halo_vz_host_halo")


def ellipsoid_maps(axis_a: np.ndarray, axis_b: np.ndarray, b_to_a: np.ndarray, c_to_a: np.ndarray
                   ) -> np.ndarray:
    """Linear maps (N, 3, 3) taking a sphere onto each halo's ellipsoid of the same volume.

    axis_a, axis_b (N, 3): the major and intermediate axes (any length; B is made perpendicular to A);
    b_to_a, c_to_a (N,) in (0, 1]. The map is R diag(1, q, s) (q s)^(-1/3) Rᵀ with R = [Â, B̂, Â × B̂]. A halo
    whose axes or ratios are degenerate (zero, not finite, B parallel to A) keeps the sphere (the identity).
    """
    valid = (np.isfinite(b_to_a) & np.isfinite(c_to_a) & (b_to_a > 0) & (c_to_a > 0)
             & (np.linalg.norm(np.cross(axis_a, axis_b), axis=1) > 0))
    axis_a = np.where(valid[:, None], axis_a, [1.0, 0.0, 0.0])
    axis_b = np.where(valid[:, None], axis_b, [0.0, 1.0, 0.0])
    b_to_a, c_to_a = np.where(valid, b_to_a, 1.0), np.where(valid, c_to_a, 1.0)
    a = axis_a / np.linalg.norm(axis_a, axis=1, keepdims=True)
    b = axis_b - np.sum(axis_b * a, axis=1, keepdims=True) * a
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    rot = np.stack([a, b, np.cross(a, b)], axis=2)  # columns: the halo's axes
    scale = np.stack([np.ones_like(b_to_a), b_to_a, c_to_a], axis=1) / np.cbrt(b_to_a * c_to_a)[:, None]
    return np.einsum("nij,nj,nkj->nik", rot, scale, rot)


def _vectors(table, prefix: str) -> np.ndarray:
    """The columns `prefix`x, `prefix`y, `prefix`z of a galaxy table as (N, 3) float64."""
    return np.stack([np.asarray(table[f"{prefix}{c}"], dtype=np.float64) for c in "xyz"], axis=1)


def _triaxial_class():
    from halotools.empirical_models import NFWPhaseSpace

    class TriaxialNFWPhaseSpace(NFWPhaseSpace):
        """``NFWPhaseSpace`` whose satellite offsets follow each halo's ellipsoid (module docstring)."""

        def __init__(self, elongation: float = 1.0, **kwargs) -> None:
            super().__init__(**kwargs)
            self.elongation = elongation
            self.list_of_haloprops_needed = [*TRIAXIAL_COLUMNS, "halo_x", "halo_y", "halo_z"]

        def assign_phase_space(self, table, seed=None) -> None:
            super().assign_phase_space(table, seed=seed)
            if len(table) == 0:
                return
            centre = _vectors(table, "halo_")
            offset = _vectors(table, "") - centre  # not yet wrapped into the box: no periodicity to undo
            maps = ellipsoid_maps(_vectors(table, "halo_axisA_"), _vectors(table, "halo_axisB_"),
                                  np.asarray(table["halo_b_to_a"], dtype=np.float64) ** self.elongation,
                                  np.asarray(table["halo_c_to_a"], dtype=np.float64) ** self.elongation)
            moved = centre + np.einsum("nij,nj->ni", maps, offset)
            for i, c in enumerate("xyz"):
                table[c][:] = moved[:, i]

    return TriaxialNFWPhaseSpace


def default_profile(columns: set[str] | list[str]) -> SatelliteProfile:
    """``triaxial`` where a catalog holds its halos' axes and axis ratios (every embedded catalog does),
    else ``nfw``: the satellites of a mock config that names no phase space."""
    return "triaxial" if all(c in columns for c in TRIAXIAL_COLUMNS) else "nfw"


def check_catalog(profile: str, columns: set[str] | list[str], upid: np.ndarray, name: str) -> None:
    """InputError unless a catalog with `columns` and subhalo flags `upid` can hold `profile`'s satellites."""
    check_choice(profile, SatelliteProfile, "satellite profile")
    needed = {"triaxial": TRIAXIAL_COLUMNS, "subhalo": SUBHALO_COLUMNS}.get(profile, ())
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InputError(f"{name}: halo_table: the {profile} satellite profile needs columns {missing}")
    if profile == "subhalo" and not np.any(np.asarray(upid) != -1):
        raise InputError(f"{name}: halo_upid: the subhalo satellite profile needs subhalos (halo_upid ≠ -1); "
                         "this catalog has host halos only (use triaxial or nfw)")


def host_mass_bins(host_mass: np.ndarray, upid: np.ndarray, n_bins: int = 15) -> np.ndarray:
    """Edges (Msun/h) of host-mass bins for ``SubhaloPhaseSpace``, which lends a halo short of subhalos those
    of other hosts in its bin: consecutive host masses grouped until a group holds a 1/`n_bins` share of the
    subhalos (at least 2, as halotools asks), edges between groups, the outer ones taking every halo."""
    masses, counts = np.unique(host_mass[np.asarray(upid) != -1], return_counts=True)
    share = max(2, int(np.ceil(counts.sum() / n_bins)))
    inner, held = [], 0
    for k in range(len(masses) - 1):
        held += counts[k]
        if held >= share and counts[k + 1:].sum() >= share:
            inner.append(np.sqrt(masses[k] * masses[k + 1]))
            held = 0
    return np.array([host_mass.min() * 0.999, *inner, host_mass.max() * 1.001])


def check_elongation(elongation: float, profile: SatelliteProfile,
                     where: str = "satellite_elongation") -> float:
    """The triaxial satellites' elongation p (module docstring): a finite number > 0; 1 unless triaxial."""
    if isinstance(elongation, bool) or not isinstance(elongation, int | float) or not 0 < elongation < np.inf:
        raise InputError(f"{where}: expected a number > 0 (1: the halo's own shape), got {elongation!r}")
    if elongation != 1 and profile != "triaxial":
        raise InputError(f"{where}: applies to the triaxial satellites only, not to {profile}")
    return float(elongation)


def satellite_profile(profile: SatelliteProfile, redshift: float, halo_table=None, elongation: float = 1.0):
    """The halotools component placing satellites for `profile` at `redshift` (`halo_table`: the catalog's
    halos, which the subhalo profile bins by host mass; `elongation`: the triaxial one's p)."""
    check_choice(profile, SatelliteProfile, "satellite profile")
    elongation = check_elongation(elongation, profile)
    if profile == "subhalo":
        from halotools.empirical_models import SubhaloPhaseSpace

        bins = host_mass_bins(np.asarray(halo_table["halo_mvir_host_halo"], dtype=float),
                              np.asarray(halo_table["halo_upid"]))
        return SubhaloPhaseSpace("satellites", bins)
    if profile == "triaxial":
        return _triaxial_class()(elongation=elongation, redshift=redshift,
                                 conc_mass_model="direct_from_halo_catalog")
    from halotools.empirical_models import NFWPhaseSpace

    return NFWPhaseSpace(redshift=redshift, conc_mass_model="direct_from_halo_catalog")
