"""The `iaemu` command: the intrinsic-alignment pipeline (halos -> mocks -> emulator -> fit)."""

import typer

from inference.cli import emulator_cmd, fit_cmd, halos_cmd, observation_cmd, simulate_cmd
from inference.cli.common import STUB_SETTINGS, VersionOption

app = typer.Typer(
    name="iaemu",
    help="Intrinsic-alignment emulator: halo catalogs, HOD+IA mocks, a neural emulator and HMC fits.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root(version: VersionOption = False) -> None:
    """Intrinsic-alignment emulator: halo catalogs, HOD+IA mocks, a neural emulator and HMC fits."""


app.add_typer(halos_cmd.app, name="halos")
app.command("simulate", context_settings=STUB_SETTINGS)(simulate_cmd.simulate)
app.command("train", context_settings=STUB_SETTINGS)(emulator_cmd.train)
app.command("evaluate", context_settings=STUB_SETTINGS)(emulator_cmd.evaluate)
app.command("fit", context_settings=STUB_SETTINGS)(fit_cmd.fit)
app.command("validate", context_settings=STUB_SETTINGS)(fit_cmd.validate)
app.add_typer(observation_cmd.app, name="observation")


def main() -> None:
    """Entry point of the `iaemu` console script."""
    app()
