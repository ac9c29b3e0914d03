"""The HOD + intrinsic-alignment model of docs/ARCHITECTURE.md 4.1, built with halotools.

Centrals: ``Zheng07Cens`` + ``TrivialPhaseSpace`` + ``CentralAlignment``; satellites: ``Zheng07Sats`` +
a phase space (``catalogs.mocks.phase_space``: ``nfw``, ``triaxial`` or ``subhalo``) +
``RadialSatelliteAlignment``; orientations are assigned after positions. The model is
built once per halo catalog (:class:`HodIAModel`) and re-populated per sample with new parameters and seed.
Lengths in comoving Mpc/h, masses in Msun/h.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import version

import numpy as np

# what the model reads; every halo source of catalogs.halos.sources has these columns
from catalogs.halos.sources import REQUIRED_COLUMNS
from catalogs.mocks.phase_space import (
    TRIAXIAL_COLUMNS,
    SatelliteProfile,
    check_catalog,
    default_profile,
    satellite_profile,
)
from common.errors import InputError

PARAM_NAMES: tuple[str, ...] = ("mu_cen", "mu_sat", "logMmin", "sigma_logM", "logM0", "logM1", "alpha")
"""The 7 model parameters in IAEmu's order."""

HALOTOOLS_KEYS: dict[str, str] = {
    "mu_cen": "central_alignment_strength",
    "mu_sat": "satellite_alignment_strength",
    "logMmin": "logMmin",
    "sigma_logM": "sigma_logM",
    "logM0": "logM0",
    "logM1": "logM1",
    "alpha": "alpha",
}
"""Our parameter name -> the key of halotools' composite ``param_dict``."""

COMPONENTS: dict[str, str] = {
    "centrals_occupation": "Zheng07Cens",
    "centrals_profile": "TrivialPhaseSpace",
    "centrals_orientation": "CentralAlignment",
    "satellites_occupation": "Zheng07Sats",
    "satellites_profile": "NFWPhaseSpace",
    "satellites_orientation": "RadialSatelliteAlignment",
}
"""Feature name -> halotools component; the two alignments are subclasses that pass the seed on."""

SATELLITE_COMPONENTS: dict[str, str] = {
    "nfw": "NFWPhaseSpace",
    "triaxial": "NFWPhaseSpace in each halo's ellipsoid (catalogs.mocks.phase_space)",
    "subhalo": "SubhaloPhaseSpace",
}

CALLING_SEQUENCE = (
    "centrals_occupation",
    "centrals_profile",
    "satellites_occupation",
    "satellites_profile",
    "centrals_orientation",
    "satellites_orientation",
)


MIN_PARTICLES = 20
"""Halos lighter than this many particles are left empty (halotools' ``Num_ptcl_requirement``)."""


def model_description(satellites: SatelliteProfile = "nfw", elongation: float = 1.0) -> dict[str, object]:
    """The model's components and the halotools version, for a dataset's ``model`` attribute (the triaxial
    satellites' elongation where it is not 1)."""
    profile = SATELLITE_COMPONENTS[satellites]
    if elongation != 1:
        profile += f", axis ratios ** {elongation:g}"
    return {
        "components": {**COMPONENTS, "satellites_profile": profile},
        "calling_sequence": list(CALLING_SEQUENCE),
        "param_names": list(PARAM_NAMES),
        "halotools": version("halotools"),
    }


def as_param_dict(params: Mapping[str, float] | Sequence[float]) -> dict[str, float]:
    """The 7 parameters as a dict in IAEmu's order, from a mapping or a sequence in that order."""
    if isinstance(params, Mapping):
        unknown = sorted(set(params) - set(PARAM_NAMES))
        missing = [name for name in PARAM_NAMES if name not in params]
        if unknown or missing:
            raise InputError(
                f"parameters: expected exactly {list(PARAM_NAMES)}; unknown {unknown}, missing {missing}"
            )
        return {name: float(params[name]) for name in PARAM_NAMES}
    values = [float(v) for v in params]
    if len(values) != len(PARAM_NAMES):
        raise InputError(
            f"parameters: expected {len(PARAM_NAMES)} values {list(PARAM_NAMES)}, got {len(values)}"
        )
    return dict(zip(PARAM_NAMES, values, strict=True))


def check_halo_catalog(halocat, name: str = "halo catalog") -> None:
    """Refuse a catalog that lacks a column the model needs, or the Lbox/redshift/particle_mass metadata."""
    missing = [col for col in REQUIRED_COLUMNS if col not in halocat.halo_table.colnames]
    if missing:
        raise InputError(f"{name}: halo_table: missing columns {missing} (the HOD+IA model needs them)")
    for attr in ("Lbox", "redshift", "particle_mass"):
        if getattr(halocat, attr, None) is None:
            raise InputError(f"{name}: {attr}: expected catalog metadata, found none")


def usable_halos(halocat, name: str = "halo catalog"):
    """A copy of `halocat` without halos whose major axis is zero or not finite (they would give NaN)."""
    from halotools.sim_manager import UserSuppliedHaloCatalog

    check_halo_catalog(halocat, name)
    table = halocat.halo_table
    axis = np.stack([np.asarray(table[f"halo_axisA_{c}"], dtype=float) for c in "xyz"], axis=1)
    norm = np.linalg.norm(axis, axis=1)
    keep = np.isfinite(norm) & (norm > 0)
    if not keep.any():
        raise InputError(f"{name}: halo_axisA_x/y/z: every halo has a zero or non-finite major axis")
    columns = {key: np.asarray(table[key])[keep] for key in table.colnames if key.startswith("halo_")}
    return UserSuppliedHaloCatalog(
        Lbox=np.broadcast_to(np.asarray(halocat.Lbox, dtype=float), (3,)).copy(),
        particle_mass=float(halocat.particle_mass),
        redshift=float(halocat.redshift),
        **columns,
    )


def _assign_axes(gal_type: str, table, preferred: np.ndarray, strength: float, seed: int | None):
    """Write the galaxy axes A (drawn around `preferred` with Dimroth-Watson `strength`), B, C of `gal_type`.

    halotools' own draws, with the populate seed passed on: its components call them with ``seed=None``,
    which reseeds numpy from OS entropy and makes orientations irreproducible.
    """
    from astropy.utils.misc import NumpyRNGContext
    from halotools.empirical_models.ia_models.ia_model_components import axes_correlated_with_input_vector
    from halotools.utils.mcrotations import random_perpendicular_directions, random_unit_vectors_3d
    from halotools.utils.vector_utilities import vectors_normal_to_planes

    if len(preferred) == 0:  # e.g. no satellites at all: halotools' vector helpers cannot take empty arrays
        return table
    seeds = (None, None) if seed is None else (seed, seed + 1)
    try:
        major = axes_correlated_with_input_vector(preferred, p=np.full(len(preferred), strength),
                                                  seed=seeds[0])
    except TypeError as err:  # halotools' Dimroth-Watson sampler ends with `raise warn(...)` when it gives up
        if "must derive from BaseException" not in str(err):
            raise
        from halotools.custom_exceptions import HalotoolsError

        raise HalotoolsError(f"the Dimroth-Watson sampler gave up at alignment strength {strength:.6g} for "
                             f"{len(preferred)} {gal_type}") from err
    bad = ~np.all(np.isfinite(major), axis=1)  # a satellite at its halo's centre has no radial direction
    with NumpyRNGContext(seeds[1]):
        major[bad] = random_unit_vectors_3d(int(bad.sum()))
    inter = random_perpendicular_directions(major, seed=seeds[1])
    minor = vectors_normal_to_planes(major, inter)
    mask = np.asarray(table["gal_type"]) == gal_type
    for name, vectors in zip("ABC", (major, inter, minor), strict=True):
        for i, c in enumerate("xyz"):
            table[f"galaxy_axis{name}_{c}"][mask] = vectors[mask, i]
    return table


def _component_classes():
    """halotools' alignment components, made reproducible (seeded draws; see :func:`_assign_axes`)."""
    from halotools.empirical_models import CentralAlignment, RadialSatelliteAlignment

    class SeededCentralAlignment(CentralAlignment):
        """``CentralAlignment`` (major axis along the halo's major axis) with seeded draws."""

        def assign_central_orientation(self, seed: int | None = None, **kwargs):
            table = kwargs["table"]
            halo_axis = np.stack(
                [np.asarray(table[k], dtype=float) for k in self.list_of_haloprops_needed], 1
            )
            return _assign_axes(
                self.gal_type, table, halo_axis, self.param_dict["central_alignment_strength"], seed
            )

    class SeededRadialSatelliteAlignment(RadialSatelliteAlignment):
        """``RadialSatelliteAlignment`` (major axis along the halo-centre direction) with seeded draws."""

        def assign_satellite_orientation(self, seed: int | None = None, **kwargs):
            table = kwargs["table"]
            radial, _ = self.get_radial_vector(Lbox=kwargs.get("Lbox", self._Lbox), table=table)
            return _assign_axes(
                self.gal_type, table, radial, self.param_dict["satellite_alignment_strength"], seed
            )

    return SeededCentralAlignment, SeededRadialSatelliteAlignment


def build_model(redshift: float, satellites: SatelliteProfile = "nfw", halo_table=None,
                elongation: float = 1.0):
    """A fresh halotools ``HodModelFactory`` with the six components of docs/ARCHITECTURE.md 4.1 at
    `redshift`, satellites placed by the phase space `satellites` (the subhalo one reads `halo_table`; the
    triaxial one takes `elongation`)."""
    from halotools.empirical_models import HodModelFactory, TrivialPhaseSpace, Zheng07Cens, Zheng07Sats

    CentralAlignment, RadialSatelliteAlignment = _component_classes()

    return HodModelFactory(
        centrals_occupation=Zheng07Cens(redshift=redshift),
        centrals_profile=TrivialPhaseSpace(redshift=redshift),
        centrals_orientation=CentralAlignment(central_alignment_strength=0.0),
        satellites_occupation=Zheng07Sats(redshift=redshift),
        satellites_profile=satellite_profile(satellites, redshift, halo_table, elongation),
        satellites_orientation=RadialSatelliteAlignment(satellite_alignment_strength=0.0),
        model_feature_calling_sequence=CALLING_SEQUENCE,
    )


class HodIAModel:
    """The HOD+IA model bound to one halo catalog: built once, re-populated per (parameters, seed)."""

    def __init__(self, halocat, *, name: str = "halo catalog", min_particles: float = MIN_PARTICLES,
                 satellites: SatelliteProfile | None = None, elongation: float = 1.0) -> None:
        """`satellites`: the phase space (None: ``phase_space.default_profile`` of the catalog's columns, kept
        in :attr:`satellites`); `elongation`: the triaxial one's p."""
        table = halocat.halo_table
        if satellites is None:
            satellites = default_profile(table.colnames)
            if satellites != "triaxial" and elongation != 1:
                raise InputError(f"{name}: halo_table: satellite_elongation {elongation:g} needs triaxial "
                                 f"satellites; without the columns {list(TRIAXIAL_COLUMNS)} the catalog's "
                                 "satellites default to nfw")
        check_catalog(satellites, table.colnames, np.asarray(table["halo_upid"]), name)
        self.satellites: SatelliteProfile = satellites
        self.halocat = usable_halos(halocat, name)
        self.Lbox = float(np.max(self.halocat.Lbox))
        self.model = build_model(float(self.halocat.redshift), satellites, self.halocat.halo_table,
                                 elongation)
        self._min_particles = min_particles
        self._mock_ready = False

    def populate(self, params: Mapping[str, float] | Sequence[float], seed: int):
        """Draw one mock at `params` with `seed` (< 2**31); return its galaxy table (astropy Table).

        Columns include x, y, z (Mpc/h, in [0, Lbox)), gal_type and galaxy_axisA_x/y/z (unit major axis).
        """
        for name, value in as_param_dict(params).items():
            self.model.param_dict[HALOTOOLS_KEYS[name]] = value  # in place: components hold this dict
        if self._mock_ready:
            self.model.mock.populate(seed=seed)
        else:
            self.model.populate_mock(self.halocat, seed=seed, Num_ptcl_requirement=self._min_particles)
            self._mock_ready = True
        return self.model.mock.galaxy_table

    def resolved_log_mass(self) -> tuple[float, float]:
        """log10 of the lightest and heaviest halo the model populates (Msun/h)."""
        mass = np.asarray(self.halocat.halo_table["halo_mvir"], dtype=float)
        host = np.asarray(self.halocat.halo_table["halo_upid"]) == -1
        mass = mass[host & (mass > self._min_particles * float(self.halocat.particle_mass))]
        if mass.size == 0:
            raise InputError(f"halo catalog: halo_mvir: no host halo above {self._min_particles} particles")
        return float(np.log10(mass.min())), float(np.log10(mass.max()))
