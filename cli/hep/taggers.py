"""`toptag train`, `toptag evaluate`, `toptag predict`: Lorentz-equivariant taggers.

Thin layers over `emulators.taggers.training.train_tagger` and `emulators.taggers.report`; torch is imported
only when a command runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    DeviceOption,
    QuietOption,
    SeedOption,
    checked_output,
    in_range,
    named_values,
    user_errors,
)
from common.errors import InputError, check_choice
from common.outputs import holds, is_hdf5
from emulators.artifact_files import TAGGER_JSON

Files = Annotated[list[Path], typer.Argument(help="ROOT files of jets (JetClass-style TTree 'tree').")]


def _model_settings(items: list[str]) -> dict:
    """KEY=VALUE model settings (VALUE read as JSON, else kept as text); a repeated key is refused."""
    settings: dict = {}
    for key, text in named_values(items, "--config", "KEY=VALUE, e.g. hidden=32").items():
        try:
            settings[key] = json.loads(text)
        except json.JSONDecodeError:
            settings[key] = text
    return settings


TaggerDir = Annotated[Path, typer.Argument(help="A tagger directory written by 'toptag train'.")]


@user_errors
@checked_output("out", "dir", inputs=("files", "val", "metric"), own=holds(TAGGER_JSON),
                what="tagger directory")
def train(
    files: Files,
    val: Annotated[list[Path], typer.Option("--val", help="Validation ROOT file(s); repeat for more.")],
    model: Annotated[str, typer.Option("--model", help="lorentznet | lgatr | pfn")] = "lorentznet",
    out: Annotated[Path, typer.Option("--out", help="Output tagger directory.")] = Path("tagger"),
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Passes over the training jets.")] = 20,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Jets per step.")] = 64,
    lr: Annotated[float, typer.Option("--lr", callback=in_range(0, open_lo=True),
                                      help="AdamW learning rate.")] = 1e-3,
    max_jets: Annotated[int | None, typer.Option("--max-jets", min=1,
                                                 help="Use at most this many jets.")] = None,
    max_constituents: Annotated[int, typer.Option(
        "--max-constituents", min=1, help="Keep each jet's N leading-pT constituents (recorded in the "
        "tagger; evaluate and predict apply it).")] = 200,
    config: Annotated[list[str] | None, typer.Option(
        "--config", help="Model setting KEY=VALUE, repeatable (e.g. --config hidden=32 --config layers=4); "
        "the keys are the fields of the model's config in tagger.json.")] = None,
    precision: Annotated[str, typer.Option(
        "--precision", help="auto (bf16 autocast where the CPU or GPU has native bf16) | fp32.")] = "auto",
    compile_model: Annotated[bool, typer.Option(
        "--compile", help="Train through torch.compile (pays for lgatr on CPU; minutes to compile).",
    )] = False,
    beams: Annotated[bool, typer.Option("--beams", help="Beam reference vectors (not pfn).")] = False,
    metric: Annotated[Path | None, typer.Option(
        "--metric", help="symmetry.json of 'toptag discover-symmetry': its form A replaces the Minkowski "
        "products (lorentznet only).")] = None,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    quiet: QuietOption = False,
) -> None:
    """Train a top tagger (lorentznet, lgatr or pfn) on ROOT files; labels come from their label branches."""
    from emulators.taggers.registry import MODELS
    from emulators.taggers.symmetry_analysis import load_metric
    from emulators.taggers.training import Precision, train_tagger

    check_choice(model, tuple(MODELS), "--model")
    check_choice(precision, Precision, "--precision")
    if beams and model == "pfn":
        raise InputError("--beams: the pfn tagger takes no reference vectors (lorentznet and lgatr do)")
    overrides = _model_settings(config or [])
    if beams:
        overrides["references"] = ["beam"]
    if metric is not None:
        if model != "lorentznet":
            raise InputError(f"--metric: {metric}: only the lorentznet tagger takes a metric, not {model}")
        overrides["metric"] = load_metric(metric)
    meta = train_tagger(files, val, out, model=model, epochs=epochs, batch_size=batch_size, lr=lr,
                        device=device, seed=seed, max_jets=max_jets, max_particles=max_constituents,
                        precision=precision, compile_model=compile_model, overrides=overrides,
                        quiet=quiet)
    auc = meta["training"]["val_metrics"].get("auc", float("nan"))
    print(f"{out}: {model} ({meta['params']} parameters), validation AUC {auc:.4f}")


@user_errors
@checked_output("out", "dir", inputs=("tagger", "files"), own=holds("metrics.json"), what="report")
def evaluate(
    tagger: TaggerDir,
    files: Files,
    out: Annotated[Path, typer.Option("--out", help="Output report directory.")] = Path("report"),
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=2, help="Bootstrap resamples.")] = 200,
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
@checked_output("out", "file", inputs=("tagger", "file"), own=is_hdf5, what="HDF5 scores file")
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
