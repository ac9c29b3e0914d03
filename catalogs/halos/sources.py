"""Sources of halo catalogs behind one function, `load_halo_catalog` (docs/ARCHITECTURE.md section 4.2).

A source is an embedded N-body preset (`tiny`, `default`, `wide`, `large`: built once, then read from an HDF5
cache keyed by a hash of the configuration), `halotools:NAME` (a catalog in halotools' cache), a path ending
in .h5/.hdf5 (an HDF5 table of `halo_*` columns as written by `write_halo_table`), or any other path (a
rockstar hlist ASCII file, see `catalogs.halos.rockstar`). Lengths comoving Mpc/h, masses Msun/h, velocities
km/s.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from catalogs.halos.nbody import NBodyConfig, simulate
from common.atomic import atomic_file
from common.errors import InputError, check_seed

FORMAT = "iaemu-halos-1"
LINKING_LENGTH = 0.2  # in units of the mean interparticle separation
MIN_MEMBERS = 20
PRESETS: dict[str, NBodyConfig] = {
    "tiny": NBodyConfig(box=32.0, n_side=32, mesh_factor=2, z_init=19.0, n_steps=20),
    "default": NBodyConfig(box=64.0, n_side=128, mesh_factor=2, z_init=19.0, n_steps=40),
    # the default's mass resolution in a box that holds the field's bins (to 31.6 Mpc/h < Lbox/4)
    "wide": NBodyConfig(box=128.0, n_side=256, mesh_factor=2, z_init=19.0, n_steps=40),
    "large": NBodyConfig(box=256.0, n_side=512, mesh_factor=2, z_init=19.0, n_steps=40),
}
REQUIRED_COLUMNS = (
    "halo_id",
    "halo_upid",
    "halo_hostid",
    "halo_x",
    "halo_y",
    "halo_z",
    "halo_vx",
    "halo_vy",
    "halo_vz",
    "halo_mvir",
    "halo_rvir",
    "halo_nfw_conc",
    "halo_axisA_x",
    "halo_axisA_y",
    "halo_axisA_z",
)


def default_cache_dir() -> Path:
    """$IAEMU_CACHE/halos if set, else cache/halos under the current directory."""
    root = os.environ.get("IAEMU_CACHE")
    return Path(root) / "halos" if root else Path("cache") / "halos"


def config_hash(config: NBodyConfig, seed: int) -> str:
    """SHA-256 of everything that determines an embedded catalog (device excluded)."""
    from catalogs.halos.properties import CONCENTRATION_MODEL

    key = {
        "format": FORMAT,
        "nbody": asdict(config),
        "seed": seed,
        "fof_b": LINKING_LENGTH,
        "min_members": MIN_MEMBERS,
        "concentration": CONCENTRATION_MODEL,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def content_hash(columns: dict[str, np.ndarray]) -> str:
    """SHA-256 of the column names and values (the catalog's identity in downstream files)."""
    digest = hashlib.sha256()
    for name in sorted(columns):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(columns[name]).tobytes())
    return digest.hexdigest()


def build_nbody_halos(
    config: NBodyConfig, *, seed: int = 0, device: str = "auto", quiet: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Run the PM simulation and its FoF halo finder; return (columns, metadata) with timings in metadata."""
    from catalogs.halos.fof import friends_of_friends
    from catalogs.halos.properties import halo_columns

    start = time.perf_counter()
    snapshot, _ = simulate(config, seed=seed, device=device, quiet=quiet)
    simulated = time.perf_counter()
    labels = friends_of_friends(
        snapshot.positions, config.box, LINKING_LENGTH * config.box / config.n_side, MIN_MEMBERS
    )
    columns = halo_columns(snapshot, labels)
    metadata = {
        "Lbox": config.box,
        "redshift": snapshot.redshift,
        "particle_mass": snapshot.particle_mass,
        "seed": seed,
        "config": json.dumps(asdict(config)),
        "config_hash": config_hash(config, seed),
        "nbody_seconds": simulated - start,
        "fof_and_properties_seconds": time.perf_counter() - simulated,
    }
    return columns, metadata


def write_halo_table(
    path: str | os.PathLike[str], columns: dict[str, np.ndarray], metadata: dict[str, Any]
) -> str:
    """Write columns under /halos and metadata as root attributes, atomically; return the content hash."""
    digest = content_hash(columns)
    with atomic_file(path) as tmp, h5py.File(tmp, "w") as out:
        group = out.create_group("halos")
        for name, values in columns.items():
            group.create_dataset(name, data=values)
        out.attrs.update({**metadata, "format": FORMAT, "content_hash": digest})
    return digest


def read_halo_table(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(columns, metadata) of an HDF5 halo table: `halo_*` datasets under /halos (or the root), with root
    attributes Lbox (Mpc/h), redshift and particle_mass (Msun/h)."""
    try:
        with h5py.File(path, "r") as src:
            group = src["halos"] if "halos" in src else src
            columns = {name: group[name][()] for name in group if name.startswith("halo_")}
            metadata = {
                key: (value.item() if isinstance(value, np.generic) else value)
                for key, value in src.attrs.items()
            }
    except (OSError, KeyError) as err:
        raise InputError(f"{path}: cannot read as an HDF5 halo table ({err})") from err
    for key in ("Lbox", "redshift", "particle_mass"):
        if key not in metadata:
            raise InputError(f"{path}: attribute {key}: missing; expected a number at the file's root")
    return columns, metadata


POSITIVE_COLUMNS = ("halo_mvir", "halo_rvir")  # Msun/h, Mpc/h


def _check_physical(values: np.ndarray, where: str, name: str) -> None:
    """A required column: one finite number per halo, positive for masses, radii and concentrations."""
    if values.ndim != 1 or values.dtype.kind not in "biuf":
        raise InputError(f"{where}: {name}: expected one number per halo, got {values.dtype} of shape "
                         f"{values.shape}")
    bad = ~np.isfinite(values)
    if name in POSITIVE_COLUMNS:
        bad |= ~(values > 0)
    if bad.any():
        rule = "finite and > 0" if name in POSITIVE_COLUMNS else "finite"
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"{where}: {name}: {int(bad.sum())} halos (first: row {first}) have values that "
                         f"are not {rule}")


def check_columns(columns: dict[str, np.ndarray], where: str) -> None:
    """Refuse a table that lacks a required column, has ragged columns, or a zero-length major axis."""
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            raise InputError(f"{where}: {name}: missing column; expected {', '.join(REQUIRED_COLUMNS)}")
    for name in REQUIRED_COLUMNS:
        _check_physical(np.asarray(columns[name]), where, name)
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise InputError(
            f"{where}: halo columns: expected non-empty columns of one length, got lengths {lengths}"
        )
    norm = np.sqrt(sum(columns[f"halo_axisA_{c}"].astype(np.float64) ** 2 for c in "xyz"))
    if not np.all(norm > 0):
        raise InputError(
            f"{where}: halo_axisA_x/y/z: {np.sum(~(norm > 0))} halos have a zero-length major "
            "axis; expected a non-zero major axis for every halo"
        )


def make_catalog(columns: dict[str, np.ndarray], metadata: dict[str, Any], name: str) -> Any:
    """A halotools UserSuppliedHaloCatalog of the columns (major axis normalised) with its metadata."""
    from halotools.sim_manager import UserSuppliedHaloCatalog

    check_columns(columns, name)
    columns = dict(columns)
    norm = np.sqrt(sum(columns[f"halo_axisA_{c}"].astype(np.float64) ** 2 for c in "xyz"))
    if not np.allclose(norm, 1.0, rtol=0, atol=1e-9):
        for c in "xyz":
            columns[f"halo_axisA_{c}"] = columns[f"halo_axisA_{c}"] / norm
    lbox = float(np.atleast_1d(metadata["Lbox"])[0])
    if not (np.isfinite(lbox) and lbox > 0):
        raise InputError(f"{name}: attribute Lbox: {lbox}: expected a finite box size > 0 Mpc/h")
    for c in "xyz":
        if np.any((columns[f"halo_{c}"] < 0) | (columns[f"halo_{c}"] > lbox)):
            raise InputError(f"{name}: halo_{c}: expected positions in [0, {lbox}] Mpc/h")
    extra = {
        key: value
        for key, value in metadata.items()
        if key not in ("Lbox", "redshift", "particle_mass", "name", "content_hash")
    }
    catalog = UserSuppliedHaloCatalog(
        Lbox=lbox,
        redshift=float(metadata["redshift"]),
        particle_mass=float(metadata["particle_mass"]),
        name=name,
        content_hash=metadata.get("content_hash") or content_hash(columns),
        **{key: np.asarray(values) for key, values in columns.items()},
        **extra,
    )
    return catalog


def catalog_metadata(catalog: Any) -> dict[str, Any]:
    """name, Lbox (Mpc/h), redshift, particle_mass (Msun/h) and content hash of a catalog from this module
    (the hash is computed from the table for any other halotools catalog)."""
    digest = getattr(catalog, "content_hash", None)
    if digest is None:
        digest = content_hash(
            {name: np.asarray(catalog.halo_table[name]) for name in catalog.halo_table.colnames}
        )
    return {
        "name": str(getattr(catalog, "name", getattr(catalog, "simname", "unknown"))),
        "Lbox": float(np.atleast_1d(catalog.Lbox)[0]),
        "redshift": float(catalog.redshift),
        "particle_mass": float(catalog.particle_mass),
        "content_hash": str(digest),
    }


def preset_catalog_path(preset: str, *, seed: int = 0, cache_dir: Path | None = None) -> Path:
    """Where the cached catalog of `preset` built with `seed` lives."""
    config = PRESETS[preset]
    return (cache_dir or default_cache_dir()) / f"{preset}-seed{seed}-{config_hash(config, seed)[:16]}.h5"


def build_preset(
    preset: str, *, seed: int = 0, cache_dir: Path | None = None, quiet: bool = False, device: str = "auto"
) -> Path:
    """Build (or find in the cache) the catalog of an embedded preset; return its cache path."""
    if preset not in PRESETS:
        raise InputError(f"preset: {preset!r}: expected one of {', '.join(PRESETS)}")
    check_seed(seed)
    path = preset_catalog_path(preset, seed=seed, cache_dir=cache_dir)
    if not path.exists():
        columns, metadata = build_nbody_halos(PRESETS[preset], seed=seed, device=device, quiet=quiet)
        write_halo_table(path, columns, {**metadata, "name": f"iaemu-nbody-{preset}"})
    return path


def load_halo_catalog(
    source: str, *, seed: int = 0, cache_dir: Path | None = None, quiet: bool = False, device: str = "auto"
) -> Any:
    """The halo catalog of `source` as a halotools UserSuppliedHaloCatalog (see the module docstring).

    `seed` and `device` apply to the embedded presets only; an unknown source raises InputError.
    """
    if source in PRESETS:
        path = build_preset(source, seed=seed, cache_dir=cache_dir, quiet=quiet, device=device)
        columns, metadata = read_halo_table(path)
        return make_catalog(columns, metadata, str(metadata.get("name", source)))
    if source.startswith("halotools:"):
        from catalogs.halos.rockstar import read_halotools_cached

        columns, metadata = read_halotools_cached(source.split(":", 1)[1])
        return make_catalog(columns, metadata, source)
    path = Path(source)
    if not path.is_file():
        raise InputError(
            f"{source}: source: not a preset ({', '.join(PRESETS)}), a halotools:NAME catalog "
            "or an existing file"
        )
    if path.suffix.lower() in (".h5", ".hdf5"):
        columns, metadata = read_halo_table(path)
        check_columns(columns, str(path))  # a file's errors name the file, not the catalog's name
        return make_catalog(columns, metadata, str(metadata.get("name", path.name)))
    from catalogs.halos.rockstar import read_rockstar_hlist

    columns, metadata = read_rockstar_hlist(path)
    check_columns(columns, str(path))
    return make_catalog(columns, metadata, path.name)
