"""`iaemu observation ...`: build observation files from text tables (issue #5)."""

import typer

from inference.cli.common import STUB_SETTINGS, not_built, user_errors

app = typer.Typer(help="Build observation files (contract 3.3) from measurement tables.", no_args_is_help=True)


@app.command("import", context_settings=STUB_SETTINGS)
@user_errors
def import_tables() -> None:
    """Build an observation HDF5 file from whitespace-separated tables (r xi err, r ed err, r ee err)."""
    not_built("iaemu observation import", 5)
