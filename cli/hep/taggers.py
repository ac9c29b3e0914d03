"""`toptag train`, `toptag evaluate`, `toptag predict`: Lorentz-equivariant taggers.

Thin layers over `emulators.taggers.training.train_tagger` and `emulators.taggers.report`; torch is imported
only when a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import DeviceOption, QuietOption, SeedOption, user_errors
from common.errors import InputError

Files = Annotated[list[Path], typer.Argument(help="ROOT files of jets (JetClass-style TTree 'tree').")]
TaggerDir = Annotated[Path, typer.Argument(help="A tagger directory written by 'toptag train'.")]


@user_errors
def train(
    files: Files,
    val: Annotated[list[Path], typer.Option("--val", help="Validation ROOT file(s); repeat for more.")],
    model: Annotated[str, typer.Option("--model", help="lorentznet | lgatr | pfn")] = "lorentznet",
    out: Annotated[Path, typer.Option("--out", help="Output tagger directory.")] = Path("tagger"),
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the training jets.")] = 20,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Jets per step.")] = 64,
    lr: Annotated[float, typer.Option("--lr", help="AdamW learning rate.")] = 1e-3,
    max_jets: Annotated[int | None, typer.Option("--max-jets", help="Use at most this many jets.")] = None,
    beams: Annotated[bool, typer.Option("--beams", help="Beam reference vectors (not pfn).")] = False,
    metric: Annotated[Path | None, typer.Option(
        "--metric", help="symmetry.json of 'toptag discover-symmetry': its form A replaces the Minkowski "
        "products (lorentznet only).")] = None,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Train a top tagger (lorentznet, lgatr or pfn) on ROOT files; labels come from their label branches."""
    from emulators.taggers.symmetry_analysis import load_metric
    from emulators.taggers.training import train_tagger

    overrides: dict = {"references": ["beam"]} if beams and model != "pfn" else {}
    if metric is not None:
        if model != "lorentznet":
            raise InputError(f"--metric: {metric}: only the lorentznet tagger takes a metric, not {model}")
        overrides["metric"] = load_metric(metric)
    meta = train_tagger(files, val, out, model=model, epochs=epochs, batch_size=batch_size, lr=lr,
                        device=device, seed=seed, max_jets=max_jets, overrides=overrides, quiet=quiet)
    auc = meta["training"]["val_metrics"].get("auc", float("nan"))
    print(f"{out}: {model} ({meta['params']} parameters), validation AUC {auc:.4f}")


@user_errors
def evaluate(
    tagger: TaggerDir,
    files: Files,
    out: Annotated[Path, typer.Option("--out", help="Output report directory.")] = Path("report"),
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples.")] = 200,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Evaluate a tagger on test files: accuracy, ROC AUC, 1/εB at εS = 0.3, 0.5 (metrics.json, plots)."""
    from emulators.taggers.report import evaluate_tagger

    report = evaluate_tagger(tagger, files, out, device=device, seed=seed, n_bootstrap=bootstrap)
    if not quiet:
        print(json.dumps({k: v for k, v in report["metrics"].items()}, indent=1))
    print(f"{out}: AUC {report['metrics']['auc']['value']:.4f} ± {report['metrics']['auc']['std']:.4f}")


@user_errors
def predict(
    tagger: TaggerDir,
    file: Annotated[Path, typer.Argument(help="A ROOT file of jets.")],
    out: Annotated[Path, typer.Option("--out", help="HDF5 output: /score, /label.")] = Path("scores.h5"),
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Write a tagger's scores for every jet of a ROOT file to HDF5 (scoring is deterministic)."""
    from emulators.taggers.report import predict_file

    n = predict_file(tagger, file, out, device=device, quiet=quiet)
    print(f"{out}: {n} scores")
