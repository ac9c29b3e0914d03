"""`toptag discover-symmetry`: LieGAN on jets (docs/ARCHITECTURE.md 4.6), a thin layer over
`emulators.taggers.symmetry.discover_symmetry`; torch is imported only when the command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import DeviceOption, QuietOption, SeedOption, checked_output, in_range, user_errors
from common.outputs import holds


@user_errors
@checked_output("out", "dir", inputs=("files",), own=holds("symmetry.json"), what="output folder")
def discover_symmetry(
    files: Annotated[list[Path], typer.Argument(help="ROOT files of jets (JetClass-style TTree 'tree').")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (symmetry.json, symmetry.png).")
                   ] = Path("sym"),
    constituents: Annotated[int, typer.Option("--constituents", min=1,
                                              help="Leading constituents per jet.")] = 2,
    generators: Annotated[int, typer.Option("--generators", min=1, help="Lie-algebra basis elements k.")] = 7,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Passes over the jets.")] = 30,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Jets per step.")] = 64,
    sigma: Annotated[float, typer.Option("--sigma", callback=in_range(0, open_lo=True),
                                          help="Std of the coefficients z_i of g = exp(Σ z_i L_i).")
                     ] = 0.3,
    device: DeviceOption = "cpu",
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Discover the symmetry group of jets with LieGAN: the learned Lie-algebra basis, its invariant metric
    and their likeness to the Minkowski metric and so(1,3); a killed run resumes when started again."""
    from emulators.taggers.symmetry import LieGANSettings
    from emulators.taggers.symmetry import discover_symmetry as discover

    settings = LieGANSettings(generators=generators, epochs=epochs, batch_size=batch_size, sigma=sigma,
                              seed=seed, device=device)
    summary = discover(files, out, settings, constituents=constituents, quiet=quiet)
    form = summary["invariant_form"]
    sig = form["signature"]
    print(f"{out}: {generators} generators from {summary['data']['n_jets']} jets in "
          f"{summary['timings']['train_s']:.0f} s | eigenvalues of A "
          f"{', '.join(f'{v:.3f}' for v in form['eigenvalues'])} | signature ({sig['positive']}, "
          f"{sig['negative']}) | |cos| with diag(1,-1,-1,-1) {summary['minkowski_cosine']:.3f} | "
          f"so(1,3) subspace similarity {summary['so13_subspace_similarity']:.3f}")
