"""`iaemu observation ...`: build observation files from text tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import user_errors

app = typer.Typer(
    help="Build observation files (contract 3.3) from measurement tables.", no_args_is_help=True
)


@app.command("import")
@user_errors
def import_tables(
    out: Annotated[Path, typer.Option("--out", help="Observation file to write (HDF5).")],
    xi: Annotated[Path | None, typer.Option("--xi", help="Table with the header line 'r xi err'.")] = None,
    omega: Annotated[
        Path | None, typer.Option("--omega", help="Table with the header line 'r ed err'.")
    ] = None,
    eta: Annotated[Path | None, typer.Option("--eta", help="Table with the header line 'r ee err'.")] = None,
    cov: Annotated[
        list[str] | None,
        typer.Option(
            "--cov",
            help="Covariance .npy: one (K, K) file for all "
            "tables, or one (B, B) per table (in the order xi, omega, eta, "
            "or named: omega=FILE.npy).",
        ),
    ] = None,
    source: Annotated[str | None, typer.Option("--source", help="Recorded as the file's 'source'.")] = None,
    sample: Annotated[str | None, typer.Option("--sample", help="Recorded as the file's 'sample'.")] = None,
    redshift: Annotated[
        float | None, typer.Option("--redshift", help="Recorded as the file's 'redshift'.")
    ] = None,
) -> None:
    """Build an observation HDF5 file from whitespace-separated tables (r xi err, r ed err, r ee err)."""
    from inference.ia.observations import import_tables as build

    tables = {k: v for k, v in (("xi", xi), ("omega", omega), ("eta", eta)) if v is not None}
    attrs = {
        k: str(v)
        for k, v in (("source", source), ("sample", sample), ("redshift", redshift))
        if v is not None
    }
    obs = build(tables, cov, out=out, attrs=attrs)
    print(f"wrote {out}: {', '.join(obs.statistics)} in {obs.r.size} bins, covariance {obs.cov.shape}")


@app.command("from-mock")
@user_errors
def from_mock(
    mocks: Annotated[Path, typer.Argument(help="A mock dataset written by 'iaemu simulate'.")],
    out: Annotated[Path, typer.Option("--out", help="Observation file to write (HDF5).")],
    row: Annotated[
        int | None, typer.Option("--row", help="The design point (row of /params); default: first usable.")
    ] = None,
) -> None:
    """Make an observation at known parameters: the mean of one mock row's realisations, and its variance."""
    from inference.ia.mock_observation import observation_from_mock

    obs, truth = observation_from_mock(mocks, row, out)
    print(f"wrote {out}: {', '.join(obs.statistics)} in {obs.r.size} bins at " +
          ", ".join(f"{name}={value:.4g}" for name, value in truth.items()))
