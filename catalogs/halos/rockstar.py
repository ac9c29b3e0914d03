"""Real halo catalogs: rockstar `hlist` ASCII files (through halotools' RockstarHlistReader) and catalogs in
halotools' own cache, both mapped onto the columns of the embedded catalog.

Units as halotools stores them: positions comoving Mpc/h, velocities km/s, masses Msun/h; hlist radii and
shape axes (kpc/h) are converted to Mpc/h. Rockstar writes a zero major axis where it measured no shape:
those halos are dropped (and counted in the metadata as n_dropped_no_shape), since the alignment models
need an axis; a file where no halo has a shape is refused.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import InputError

# our column -> (hlist header name, dtype); radii and axes are in kpc/h in the file
HLIST_COLUMNS = {
    "halo_id": ("id", "i8"),
    "halo_upid": ("upid", "i8"),
    "halo_mvir": ("mvir", "f8"),
    "halo_rvir": ("rvir", "f8"),
    "halo_rs": ("rs", "f8"),
    "halo_x": ("x", "f8"),
    "halo_y": ("y", "f8"),
    "halo_z": ("z", "f8"),
    "halo_vx": ("vx", "f8"),
    "halo_vy": ("vy", "f8"),
    "halo_vz": ("vz", "f8"),
    "halo_b_to_a": ("b_to_a", "f8"),
    "halo_c_to_a": ("c_to_a", "f8"),
    "halo_axisA_x": ("a[x]", "f8"),
    "halo_axisA_y": ("a[y]", "f8"),
    "halo_axisA_z": ("a[z]", "f8"),
}
KPC_COLUMNS = ["halo_rvir", "halo_rs", "halo_axisA_x", "halo_axisA_y", "halo_axisA_z"]


def parse_hlist_header(path: Path) -> dict[str, Any]:
    """Column indices (lower-case names, first occurrence), box size, particle mass and scale factor."""
    try:
        with open(path, encoding="utf-8", errors="replace") as src:
            first = src.readline()
            header = [first]
            for line in src:
                if not line.startswith("#"):
                    scale = float(line.split()[0]) if line.split() else float("nan")
                    break
                header.append(line)
            else:
                scale = float("nan")
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: cannot read as a rockstar hlist file ({err})") from err
    indices: dict[str, int] = {}
    for name, index in re.findall(r"([^\s()]+(?:\([^\s()]*\))?)\((\d+)\)", first.lstrip("#")):
        indices.setdefault(name.lower(), int(index))
    text = "".join(header)
    box = re.search(r"box size\s*[=:]\s*([0-9.eE+-]+)", text, re.IGNORECASE)
    mass = re.search(r"particle mass\s*[=:]\s*([0-9.eE+-]+)", text, re.IGNORECASE)
    a_line = re.search(r"^#a\s*=\s*([0-9.eE+-]+)", text, re.MULTILINE)
    if not indices:
        raise InputError(f"{path}: header: expected a rockstar hlist header line '#scale(0) id(1) ...'")
    if box is None:
        raise InputError(f"{path}: header: box size: expected a line '#Full box size = L Mpc/h'")
    return {
        "indices": indices,
        "Lbox": float(box.group(1)),
        "particle_mass": float(mass.group(1)) if mass else float("nan"),
        "scale": float(a_line.group(1)) if a_line else scale,
    }


def read_rockstar_hlist(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(columns, metadata) of a rockstar hlist file read with halotools' RockstarHlistReader.

    particle_mass comes from a '#Particle mass' header line, NaN when the file does not state it; the
    redshift from '#a = ' or else the first row's scale factor. halotools' progress messages are silenced.
    """
    from halotools.custom_exceptions import HalotoolsError
    from halotools.sim_manager import RockstarHlistReader

    path = Path(path)
    header = parse_hlist_header(path)
    keep = {}
    for column, (name, dtype) in HLIST_COLUMNS.items():
        if name not in header["indices"]:
            raise InputError(f"{path}: {name}: missing column in the hlist header (needed for {column})")
        keep[column] = (header["indices"][name], dtype)
    redshift = 1.0 / header["scale"] - 1.0
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            reader = RockstarHlistReader(
                input_fname=str(path),
                columns_to_keep_dict=keep,
                output_fname=str(path) + ".iaemu.hdf5",
                simname="rockstar",
                halo_finder="rockstar",
                redshift=redshift,
                version_name="iaemu",
                Lbox=header["Lbox"],
                particle_mass=header["particle_mass"],
                ignore_nearby_redshifts=True,
            )
            reader.read_halocat(KPC_COLUMNS, write_to_disk=False)
    except (HalotoolsError, ValueError, IndexError, OSError) as err:
        raise InputError(f"{path}: rockstar hlist: {str(err).strip().splitlines()[0]}") from err
    table = reader.halo_table
    columns = {name: np.asarray(table[name]) for name in table.colnames}
    metadata = {
        "Lbox": header["Lbox"],
        "redshift": redshift,
        "particle_mass": header["particle_mass"],
        "source_file": str(path),
    }
    return keep_shaped(columns, metadata, str(path))


def read_halotools_cached(simname: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(columns, metadata) of a halotools cached catalog (e.g. 'bolplanck'); never downloads."""
    from halotools.custom_exceptions import HalotoolsError
    from halotools.sim_manager import CachedHaloCatalog

    try:
        catalog = CachedHaloCatalog(simname=simname)
    except (HalotoolsError, OSError, KeyError, ValueError) as err:
        raise InputError(
            f"halotools:{simname}: source: not in halotools' cache on this machine (halotools "
            "downloads catalogs with download_additional_halocat.py; nothing is downloaded here)"
        ) from err
    table = catalog.halo_table
    columns = {name: np.asarray(table[name]) for name in table.colnames}
    metadata = {
        "Lbox": float(np.atleast_1d(catalog.Lbox)[0]),
        "redshift": float(catalog.redshift),
        "particle_mass": float(catalog.particle_mass),
        "source_file": str(catalog.fname),
    }
    return keep_shaped(columns, metadata, f"halotools:{simname}")


def keep_shaped(
    columns: dict[str, np.ndarray], metadata: dict[str, Any], where: str
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Drop halos whose major axis has zero length (no shape measured); refuse a catalog with none left."""
    if not all(f"halo_axisA_{c}" in columns for c in "xyz"):
        raise InputError(f"{where}: halo_axisA_x/y/z: missing columns; expected halo shape axes")
    norm = np.sqrt(sum(columns[f"halo_axisA_{c}"].astype(np.float64) ** 2 for c in "xyz"))
    shaped = norm > 0
    if not shaped.any():
        raise InputError(f"{where}: halo_axisA_x/y/z: every major axis has zero length; expected halo shapes")
    columns = {name: values[shaped] for name, values in columns.items()}
    columns["halo_axisA_length"] = norm[shaped]
    return columns, {**metadata, "n_dropped_no_shape": int((~shaped).sum())}
