"""The `toptag` command: the top-tagging pipeline (jets -> ROOT -> taggers -> template fit)."""

import typer

from cli.common import VersionOption, run_app
from cli.hep import jets, symmetry, taggers, template_fit

app = typer.Typer(
    name="toptag",
    help="Top tagging: Pythia 8 jets in ROOT files, Lorentz-equivariant taggers and HMC template fits.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root(version: VersionOption = False) -> None:
    """Top tagging: Pythia 8 jets in ROOT files, Lorentz-equivariant taggers and HMC template fits."""


app.command("generate")(jets.generate)
app.command("train")(taggers.train)
app.command("evaluate")(taggers.evaluate)
app.command("predict")(taggers.predict)
app.command("fit")(template_fit.fit)
app.command("mix")(jets.mix)
app.command("discover-symmetry")(symmetry.discover_symmetry)


def main() -> None:
    """Entry point of the `toptag` console script."""
    run_app(app)
