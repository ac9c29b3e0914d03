"""The `toptag` command: the top-tagging pipeline (jets -> ROOT -> taggers -> template fit)."""

import typer

from inference.cli import jets_cmd, tagger_cmd, tagger_fit_cmd
from inference.cli.common import VersionOption, run_app

app = typer.Typer(
    name="toptag",
    help="Top tagging: Pythia 8 jets in ROOT files, Lorentz-equivariant taggers and HMC template fits.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root(version: VersionOption = False) -> None:
    """Top tagging: Pythia 8 jets in ROOT files, Lorentz-equivariant taggers and HMC template fits."""


app.command("generate")(jets_cmd.generate)
app.command("train")(tagger_cmd.train)
app.command("evaluate")(tagger_cmd.evaluate)
app.command("predict")(tagger_cmd.predict)
app.command("fit")(tagger_fit_cmd.fit)
app.command("mix")(jets_cmd.mix)


def main() -> None:
    """Entry point of the `toptag` console script."""
    run_app(app)
