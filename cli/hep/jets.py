"""`toptag generate`: top and QCD jets with Pythia 8 + FastJet into ROOT files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import QuietOption, SeedOption, checked_output, in_range, user_errors
from common.errors import check_choice
from common.outputs import is_root


@user_errors
@checked_output("out", "file", own=is_root, what="ROOT file")
def generate(
    process: Annotated[str, typer.Option("--process", help="top (hadronic t tbar) | qcd (QCD dijets)")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of accepted jets to write.")],
    out: Annotated[Path, typer.Option("--out", help="ROOT file to write (JetClass branch names).")],
    workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel worker processes.")] = 1,
    seed: SeedOption = 0,
    mpi: Annotated[bool, typer.Option("--mpi", help="Multiparton interactions on (default off).")] = False,
    smear: Annotated[bool, typer.Option("--smear", help="Smear energies (catalogs.jets.smearing).")] = False,
    chunk_jets: Annotated[int, typer.Option("--chunk-jets", min=1,
                                            help="Accepted jets per resumable chunk.")] = 500,
    quiet: QuietOption = False,
) -> None:
    """Generate top or QCD jets (Kasieczka et al. 2019 recipe, particle level) into a JetClass-style ROOT
    file; a killed run started again with the same options resumes from its finished chunks."""
    from catalogs.jets.generation import PROCESSES, JetConfig
    from catalogs.jets.production import generate_jets

    check_choice(process, tuple(PROCESSES), "--process")
    config = JetConfig(process=process, mpi=mpi, smear=smear)
    report = generate_jets(config, n, out, workers=workers, seed=seed, chunk_jets=chunk_jets, quiet=quiet)
    rate = report.jets_generated / report.cpu_seconds if report.cpu_seconds > 0 else float("nan")
    acceptance = report.jets_generated / report.n_events if report.n_events else float("nan")
    print(
        f"{report.n_jets} {process} jets -> {report.path} | {report.chunks_made} chunks made, "
        f"{report.chunks_reused} reused | acceptance {acceptance:.3f} | {rate:.0f} jets per CPU second | "
        f"{report.wall_seconds:.1f} s"
    )


@user_errors
@checked_output("out", "file", inputs=("signal", "background"), own=is_root, what="ROOT file")
def mix(
    signal: Annotated[Path, typer.Option("--signal", help="ROOT file of signal (top) jets.")],
    background: Annotated[Path, typer.Option("--background", help="ROOT file of background (QCD) jets.")],
    fraction: Annotated[float, typer.Option("--fraction", callback=in_range(0, 1),
                                            help="Signal fraction of the mixed sample.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of jets in the mixed sample.")],
    out: Annotated[Path, typer.Option("--out", help="ROOT file to write.")],
    seed: SeedOption = 0,
) -> None:
    """Draw a mixed sample with a known signal fraction (the data of `toptag fit`) from two jet files."""
    from catalogs.jets.mixing import mix_jet_samples

    report = mix_jet_samples(signal, background, fraction=fraction, n_jets=n, out=out, seed=seed)
    print(f"{report.n_signal} signal + {report.n_background} background jets -> {report.path}")
