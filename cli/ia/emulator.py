"""`iaemu train`, `iaemu evaluate`, `iaemu calibrate-error` and `iaemu calibrate-scale`: the IA emulator."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from cli.common import DeviceOption, QuietOption, SeedOption, checked_output, user_errors
from common.outputs import holds
from emulators.artifact_files import EMULATOR_JSON

DropNanOption = Annotated[bool, typer.Option("--drop-nan", help="Exclude (and count) rows holding NaN "
                                             "instead of refusing the dataset.")]


def _excluded_line(excluded: dict) -> str:
    return "excluded: " + ", ".join(f"{k} {v}" for k, v in excluded.items())



@user_errors
@checked_output("out", "dir", inputs=("mocks", "error_mocks"), own=holds(EMULATOR_JSON), what="artifact")
def train(
    mocks: Annotated[Path, typer.Argument(help="Mock dataset (HDF5, docs/ARCHITECTURE.md 3.1).")],
    out: Annotated[Path, typer.Option("--out", help="Artifact directory (emulator.json + weights).")],
    ensemble: Annotated[int, typer.Option("--ensemble", min=1, help="Members of the deep ensemble.")] = 5,
    epochs: Annotated[
        int, typer.Option("--epochs", min=1, help="Epochs per member (the cosine schedule spans them).")
    ] = 120,
    mc_dropout: Annotated[bool, typer.Option("--mc-dropout", help="One network with MC dropout instead of "
                                             "a deep ensemble (--ensemble is then ignored).")] = False,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
    error_mocks: Annotated[Path | None, typer.Option("--error-mocks", help="Independent mocks (never "
                                                     "trained on) to measure the emulator's excess error "
                                                     "on (`iaemu calibrate-error`).")] = None,
    drop_nan: DropNanOption = False,
    quiet: QuietOption = False,
) -> None:
    """Train the IA emulator (mean, aleatoric and epistemic uncertainty) on a mock dataset."""
    from emulators.ia.train import EmulatorSettings, train_to_artifact


    base = EmulatorSettings()
    settings = replace(base, members=ensemble, epistemic="mc_dropout" if mc_dropout else "ensemble",
                       train=replace(base.train, epochs=epochs, device=device, seed=seed))
    emulator = train_to_artifact(mocks, out, settings, drop_nan=drop_nan, error_mocks=error_mocks,
                                 quiet=quiet)
    metrics = emulator.meta["test_metrics"] or {}
    print(_excluded_line(emulator.meta["data"]["excluded"]))
    for name, m in metrics.items():
        print(f"{name}: median |Δ|/σ_mean {m['median_abs_err_over_sigma_mean']:.3f}, "
              f"68% coverage {m['coverage_68']:.3f} (held-out test rows)")
    if emulator.error is not None:
        print(_error_line(emulator.error))
    print(f"wrote {out}")


def _error_line(entry: dict) -> str:
    import numpy as np

    from emulators.ia.data import STATISTICS

    diag = np.diag(np.asarray(entry["covariance"])).reshape(len(STATISTICS), -1)
    per_stat = ", ".join(f"{s} {d.mean():.3f}" for s, d in zip(STATISTICS, diag, strict=True))
    line = f"emulator error on {entry['rows']} independent rows: mean excess variance / σ² {per_stat}"
    if entry.get("amplitude"):
        c = np.asarray(entry["amplitude"]["coefficients"])
        line += f"; covariance amplitude exp({c[0]:+.3f} + c·x), |c| ≤ {np.abs(c[1:]).max():.3f}"
    return line


@user_errors
def calibrate_error(
    emulator: Annotated[Path, typer.Argument(help="Artifact directory written by `iaemu train`.")],
    mocks: Annotated[Path, typer.Argument(
        help="Independent mocks (not the training file), docs/ARCHITECTURE.md 3.1.")],
    amplitude: Annotated[bool, typer.Option(
        "--amplitude", help="Also fit the covariance amplitude a(θ) (emulators.ia.error).")] = False,
) -> None:
    """Measure the emulator's error beyond its own variances on independent mocks and store it in the
    artifact (the likelihood adds it to the epistemic covariance)."""
    from emulators.ia.error import add_emulator_error

    print(_error_line(add_emulator_error(emulator, mocks, amplitude=amplitude)))
    print(f"wrote {emulator}")


@user_errors
def calibrate_scale(
    emulator: Annotated[Path, typer.Argument(help="Artifact directory with an emulator-error entry.")],
    validations: Annotated[list[Path], typer.Argument(
        help="`iaemu validate` outputs of this artifact (under any calibration it has carried) on "
             "independent mocks.")],
) -> None:
    """Measure the calibration of the fit on validations on independent mocks and store it in the artifact:
    the factor κ on the held emulator covariance and a variance D per parameter that together make each
    parameter's 68% coverage nominal (the calibration before it is kept in the entry)."""
    from inference.ia.posterior_calibration import add_covariance_scale, coverage_text

    entry = add_covariance_scale(emulator, validations)
    widened = ", ".join(f"{n} {d ** 0.5:.3g}" for n, d in entry["parameter_variance"].items() if d > 0)
    print(f"covariance scale κ {entry['value']:.4f}, parameter sd √D: {widened or 'none'} (from "
          f"{' + '.join(map(str, entry['injections']))} injections × {entry['parameters']} parameters)")
    print(f"their coverage with these, 68%/95%: {coverage_text(entry['coverage_68_95'])}")
    print(f"wrote {emulator}")


@user_errors
@checked_output("out", "dir", inputs=("emulator", "test"), own=holds("metrics.json"), what="report")
def evaluate(
    emulator: Annotated[Path, typer.Argument(help="Artifact directory written by `iaemu train`.")],
    test: Annotated[Path, typer.Argument(help="Mock dataset (if the training file: its held-out rows).")],
    out: Annotated[Path, typer.Option("--out", help="Report directory: metrics.json and plots.")],
    device: DeviceOption = "cpu",
    seed: SeedOption = 0,
    drop_nan: DropNanOption = False,
    quiet: QuietOption = False,
) -> None:
    """Evaluate a trained emulator on held-out mocks: metrics.json and plots."""
    from common.device import resolve_device
    from emulators.ia.evaluate import evaluate_artifact


    metrics = evaluate_artifact(emulator, test, out, drop_nan=drop_nan,
                                device=resolve_device(device), mc_seed=seed)
    if not quiet:
        for name, m in metrics["summary"].items():
            print(f"{name}: median |Δ|/σ_mean {m['median_abs_err_over_sigma_mean']:.3f}, "
                  f"68% coverage {m['coverage_68']:.3f}, 95% coverage {m['coverage_95']:.3f}")
        xi = metrics["summary"]["xi"]["abs_err_over_xi"]["p50"]
        ref = metrics["reference"]["median_abs_err_over_xi"]
        print(f"xi: median |Δ|/ξ {xi:.4f} (IAEmu: {ref}) on {metrics['rows']} rows")
        print(_excluded_line(metrics["excluded"]))
    print(f"wrote {out}")
