"""`iaemu observation ...`: build observation files from text tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import checked_output, in_range, user_errors
from common.outputs import is_hdf5

app = typer.Typer(
    help="Build observation files (contract 3.3) from measurement tables.", no_args_is_help=True
)


@app.command("import")
@user_errors
@checked_output("out", "file", inputs=("xi", "omega", "eta", "cov", "r_edges"), own=is_hdf5,
                what="observation file")
def import_tables(
    out: Annotated[Path, typer.Option("--out", help="Observation file to write (HDF5).")],
    xi: Annotated[Path | None, typer.Option(
        "--xi", help="Table with the header line 'r xi err', or a data vector (.npy; with --r-edges).",
    )] = None,
    omega: Annotated[Path | None, typer.Option(
        "--omega", help="Table with the header line 'r ed err', or a data vector (.npy).")] = None,
    eta: Annotated[Path | None, typer.Option(
        "--eta", help="Table with the header line 'r ee err', or a data vector (.npy).")] = None,
    cov: Annotated[
        list[str] | None,
        typer.Option(
            "--cov",
            help="Covariance .npy: one (K, K) file for all "
            "tables, or one (B, B) per table (in the order xi, omega, eta, "
            "or named: omega=FILE.npy).",
        ),
    ] = None,
    r_edges: Annotated[str | None, typer.Option(
        "--r-edges", help="Bin edges (Mpc/h): EDGES.npy, comma-separated numbers or 'logspace(lo, hi, n)'; "
        "needed with .npy vectors, and lets a fit rebin the emulator exactly.")] = None,
    jackknife: Annotated[int | None, typer.Option(
        "--jackknife", min=2,
        help="The covariance is a jackknife estimate from N sub-volumes (recorded for the "
        "fit's Hartlap or Sellentin-Heavens correction).")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Recorded as the file's 'source'.")] = None,
    sample: Annotated[str | None, typer.Option("--sample", help="Recorded as the file's 'sample'.")] = None,
    redshift: Annotated[
        float | None, typer.Option("--redshift", callback=in_range(0),
                                   help="Recorded as the file's 'redshift'.")
    ] = None,
) -> None:
    """Build an observation HDF5 file from tables (r xi err, r ed err, r ee err) or .npy data vectors."""
    from inference.ia.observation_import import import_tables as build
    from inference.ia.observation_import import parse_edges

    tables = {k: v for k, v in (("xi", xi), ("omega", omega), ("eta", eta)) if v is not None}
    attrs = {
        k: str(v)
        for k, v in (("source", source), ("sample", sample), ("redshift", redshift))
        if v is not None
    }
    edges = None if r_edges is None else parse_edges(r_edges)
    obs = build(tables, cov, out=out, attrs=attrs, r_edges=edges, jackknife=jackknife)
    print(f"wrote {out}: {', '.join(obs.statistics)} in {obs.r.size} bins, covariance {obs.cov.shape}"
          + (f" from {jackknife} jackknife sub-volumes" if jackknife else ""))


@app.command("from-mock")
@user_errors
@checked_output("out", "file", inputs=("mocks",), own=is_hdf5, what="observation file")
def from_mock(
    mocks: Annotated[Path, typer.Argument(help="A mock dataset written by 'iaemu simulate'.")],
    out: Annotated[Path, typer.Option("--out", help="Observation file to write (HDF5).")],
    row: Annotated[
        int | None, typer.Option("--row", min=0,
                                 help="The design point (row of /params); default: first usable.")
    ] = None,
    noise_model: Annotated[
        Path | None, typer.Option("--noise-model", help="Emulator artifact whose noise model at the row's "
                                  "true parameters gives the covariance (bins correlated); default: the "
                                  "scatter of the row's realisations (diagonal).")
    ] = None,
) -> None:
    """Make an observation at known parameters: the mean of one mock row's realisations, its covariance."""
    from inference.ia.emulator_jax import load_jax_emulator
    from inference.ia.mock_observation import observation_from_mock

    noise = None if noise_model is None else load_jax_emulator(noise_model)
    obs, truth = observation_from_mock(mocks, row, out, noise)
    print(f"wrote {out}: {', '.join(obs.statistics)} in {obs.r.size} bins at " +
          ", ".join(f"{name}={value:.4g}" for name, value in truth.items()))
