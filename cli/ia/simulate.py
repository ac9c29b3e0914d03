"""`iaemu simulate`: HOD + IA mock datasets over a parameter design."""

from pathlib import Path
from typing import Annotated

import typer

from cli.common import QuietOption, SeedOption, checked_output, in_range, user_errors
from common.errors import SEED_MAX
from common.outputs import is_hdf5


@user_errors
@checked_output("out", "file", inputs=("halos", "config"), own=is_hdf5, what="HDF5 dataset")
def simulate(
    halos: Annotated[
        str,
        typer.Option(
            "--halos",
            help="Halo source: tiny | default | wide | large | halotools:NAME | FILE.h5 | rockstar hlist "
            "file.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="The HDF5 dataset to write (resumed if it exists).")],
    n_points: Annotated[
        int | None,
        typer.Option(
            "--n-points", min=1, help="Latin-hypercube design points (omit when the config lists `points`)."
        ),
    ] = None,
    realisations: Annotated[int, typer.Option("--realisations", min=1, help="Mocks per design point.")] = 1,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
    seed: SeedOption = 0,
    halo_seed: Annotated[
        int, typer.Option("--halo-seed", callback=in_range(0, SEED_MAX, integer=True),
                          help="Seed of an embedded N-body preset (independent of --seed).")
    ] = 0,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="YAML/JSON: prior, points, r_edges, max_retries, narrow_to_catalog, min_particles, "
            "satellites, satellite_elongation.",
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Populate mocks over a parameter design and measure xi, omega, eta into an HDF5 dataset."""
    from catalogs.halos.sources import load_halo_catalog
    from catalogs.mocks.builder import build_mock_dataset
    from catalogs.mocks.design import RunConfig, load_config
    from catalogs.mocks.store import check_writable

    run_config = load_config(config) if config is not None else RunConfig()
    check_writable(out)  # before the (possibly long) halo catalog
    halocat = load_halo_catalog(halos, seed=halo_seed, quiet=quiet)
    build_mock_dataset(
        halocat,
        out,
        n_points=n_points,
        realisations=realisations,
        seed=seed,
        workers=workers,
        config=run_config,
        quiet=quiet,
    )
    print(out)
