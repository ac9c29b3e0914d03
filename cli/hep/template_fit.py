"""`toptag fit`: the signal fraction of a mixed sample by HMC on score templates.

A thin layer over :func:`inference.templates.fit.fit_tagger_files`; torch and JAX load only when it runs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from cli.common import QuietOption, SeedOption, checked_output, user_errors
from common.outputs import holds


@user_errors
@checked_output("out", "dir", inputs=("tagger", "data", "signal", "background"), own=holds("summary.json"),
                what="fit directory")
def fit(
    tagger: Annotated[Path, typer.Argument(help="A tagger directory written by 'toptag train'.")],
    data: Annotated[Path, typer.Option("--data", help="ROOT file of the mixed sample to fit.")],
    signal: Annotated[Path, typer.Option("--signal", help="ROOT file of signal (top) jets: the template.")],
    background: Annotated[Path, typer.Option("--background", help="ROOT file of background (QCD) jets.")],
    out: Annotated[Path, typer.Option("--out", help="Output fit directory.")] = Path("fit"),
    bins: Annotated[int, typer.Option("--bins", min=2,
                                      help="Score bins (equal-population in the pooled MC).")] = 10,
    chains: Annotated[int, typer.Option("--chains", min=1, help="NUTS chains.")] = 4,
    warmup: Annotated[int, typer.Option("--warmup", min=1, help="Warm-up iterations per chain.")] = 500,
    samples: Annotated[int, typer.Option("--samples", min=1, help="Kept draws per chain.")] = 1000,
    template_uncertainty: Annotated[bool, typer.Option(
        "--template-uncertainty/--no-template-uncertainty",
        help="Barlow-Beeston-lite nuisances for the templates' MC statistics.")] = True,
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Fit the top-jet fraction of a mixed sample from the tagger's score templates with NUTS."""
    from inference.sampling.outputs import format_table
    from inference.templates.fit import MAIN_VARS, TEMPLATE_NUTS, fit_tagger_files

    nuts = replace(TEMPLATE_NUTS, chains=chains, warmup=warmup, samples=samples)
    summary = fit_tagger_files(tagger, data, signal, background, out, bins=bins,
                               template_uncertainty=template_uncertainty, nuts=nuts, seed=seed, quiet=quiet)
    if not quiet:
        print(format_table({**summary, "parameters": {k: summary["parameters"][k] for k in MAIN_VARS}}))
    f = summary["parameters"]["f"]
    print(f"{out}: signal fraction f = {f['q50']:.4f} (68%: [{f['q16']:.4f}, {f['q84']:.4f}], "
          f"95%: [{f['q2.5']:.4f}, {f['q97.5']:.4f}])")
