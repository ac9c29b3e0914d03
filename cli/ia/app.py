"""The `iaemu` command: the intrinsic-alignment pipeline (halos -> mocks -> emulator -> fit)."""

import typer

from cli.common import VersionOption, run_app
from cli.ia import default_emulator, emulator, fit, halos, observation, simulate

app = typer.Typer(
    name="iaemu",
    help="Intrinsic-alignment emulator: halo catalogs, HOD+IA mocks, a neural emulator and HMC fits.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root(version: VersionOption = False) -> None:
    """Intrinsic-alignment emulator: halo catalogs, HOD+IA mocks, a neural emulator and HMC fits."""


app.add_typer(halos.app, name="halos")
app.command("simulate")(simulate.simulate)
app.command("train")(emulator.train)
app.command("evaluate")(emulator.evaluate)
app.command("calibrate-error")(emulator.calibrate_error)
app.command("calibrate-scale")(emulator.calibrate_scale)
app.command("fit")(fit.fit)
app.command("validate")(fit.validate)
app.add_typer(observation.app, name="observation")
app.add_typer(default_emulator.app, name="default-emulator")


def main() -> None:
    """Entry point of the `iaemu` console script."""
    run_app(app)
