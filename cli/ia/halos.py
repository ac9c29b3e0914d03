"""`iaemu halos ...`: build the embedded N-body halo catalog, or summarise any halo source."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from cli.common import DeviceOption, QuietOption, SeedOption, checked_output, user_errors
from common.errors import check_choice
from common.outputs import is_hdf5

app = typer.Typer(help="Build the embedded N-body halo catalog or import a real one.", no_args_is_help=True)


def summary(catalog: Any, seconds: float) -> str:
    """Halo count, mass range (Msun/h), particle mass, box, redshift, content hash and time, one per line."""
    from catalogs.halos.sources import catalog_metadata

    meta = catalog_metadata(catalog)
    mass = np.asarray(catalog.halo_table["halo_mvir"])
    return "\n".join(
        [
            f"catalog        {meta['name']}",
            f"halos          {len(mass)}",
            f"mass range     {mass.min():.3e} .. {mass.max():.3e} Msun/h (halo_mvir)",
            f"particle mass  {meta['particle_mass']:.3e} Msun/h",
            f"box            {meta['Lbox']:g} Mpc/h at z = {meta['redshift']:.3f}",
            f"content hash   {meta['content_hash'][:16]}",
            f"time           {seconds:.1f} s",
        ]
    )


@app.command("build")
@user_errors
@checked_output("out", "file", own=is_hdf5, what="HDF5 halo table")
def build(
    preset: Annotated[str, typer.Option("--preset", help="tiny | default | wide | large")] = "default",
    out: Annotated[Path, typer.Option("--out", help="HDF5 file to write the halo table to.")] = Path(
        "halos.h5"
    ),
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option("--cache-dir", help="Cache folder (default $IAEMU_CACHE/halos or cache/halos)."),
    ] = None,
) -> None:
    """Build a halo catalog from a preset (PM N-body + FoF; read from the cache when built before), write it
    to HDF5 and print a summary."""
    from catalogs.halos.sources import PRESETS, build_preset, load_halo_catalog
    from common.atomic import atomic_file

    check_choice(preset, tuple(PRESETS), "--preset")
    start = time.perf_counter()
    path = build_preset(preset, seed=seed, cache_dir=cache_dir, quiet=quiet, device=device)
    catalog = load_halo_catalog(preset, seed=seed, cache_dir=cache_dir, quiet=quiet, device=device)
    with atomic_file(out) as tmp:
        shutil.copyfile(path, tmp)
    print(summary(catalog, time.perf_counter() - start))
    print(f"written        {out}")


@app.command("info")
@user_errors
def info(
    source: Annotated[
        str, typer.Argument(help="tiny | default | wide | large | halotools:NAME | file.h5 | hlist file")
    ],
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    quiet: QuietOption = False,
) -> None:
    """Load any halo-catalog source (building a preset if needed) and print its summary."""
    from catalogs.halos.sources import load_halo_catalog

    start = time.perf_counter()
    catalog = load_halo_catalog(source, seed=seed, quiet=quiet, device=device)
    print(summary(catalog, time.perf_counter() - start))
