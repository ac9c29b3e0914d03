"""`iaemu halos ...`: build or import halo catalogs (issue #3)."""

import typer

from inference.cli.common import STUB_SETTINGS, not_built, user_errors

app = typer.Typer(help="Build the embedded N-body halo catalog or import a real one.", no_args_is_help=True)


@app.command("build", context_settings=STUB_SETTINGS)
@user_errors
def build() -> None:
    """Build a halo catalog from a preset (tiny, default, large) and write it to HDF5."""
    not_built("iaemu halos build", 3)
