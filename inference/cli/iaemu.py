"""The `iaemu` command: the intrinsic-alignment pipeline (halos -> mocks -> emulator -> fit)."""

import typer

from inference.cli import (
    default_emulator_cmd,
    emulator_cmd,
    fit_cmd,
    halos_cmd,
    observation_cmd,
    simulate_cmd,
)
from inference.cli.common import VersionOption, run_app

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
app.command("simulate")(simulate_cmd.simulate)
app.command("train")(emulator_cmd.train)
app.command("evaluate")(emulator_cmd.evaluate)
app.command("calibrate-error")(emulator_cmd.calibrate_error)
app.command("calibrate-scale")(emulator_cmd.calibrate_scale)
app.command("fit")(fit_cmd.fit)
app.command("validate")(fit_cmd.validate)
app.add_typer(observation_cmd.app, name="observation")
app.add_typer(default_emulator_cmd.app, name="default-emulator")


def main() -> None:
    """Entry point of the `iaemu` console script."""
    run_app(app)
