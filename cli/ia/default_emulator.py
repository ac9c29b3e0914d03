"""`iaemu default-emulator`: show or replace the emulator that ships with the toolkit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import user_errors
from emulators.artifact_files import EMULATOR_JSON

app = typer.Typer(help="The emulator `iaemu fit` uses when --emulator is omitted.", no_args_is_help=True)


@app.command("show")
@user_errors
def show() -> None:
    """Print where the default emulator lives, what it was trained on, and its evaluation metrics."""
    import json

    from emulators.ia.default_emulator import default_emulator_metrics, default_emulator_path
    from inference.ia.posterior_calibration import coverage_text, scale_steps

    path = default_emulator_path()
    doc = json.loads((path / EMULATOR_JSON).read_text())
    data = doc.get("training", {}).get("data", {})
    metrics = default_emulator_metrics()
    print(f"default emulator: {path}")
    print(f"trained on {data.get('rows_used', '?')} rows x {data.get('realisations', '?')} realisations "
          f"of {Path(str(data.get('path', '?'))).name}; evaluated on {metrics['rows']} rows of "
          f"{Path(str(metrics['test_file'])).name}")
    world = data.get("world")
    if world:
        print(f"world: {world['halo_catalog']} ({world['Lbox']:g} Mpc/h box), "
              f"satellites: {world['satellites']}")
    for name, m in metrics["summary"].items():
        print(f"{name}: median |Δ|/σ_mean {m['median_abs_err_over_sigma_mean']:.3f}, "
              f"68% coverage {m['coverage_68']:.3f}, 95% coverage {m['coverage_95']:.3f}")
    error = doc.get("emulator_error")
    if error:
        scale = error.get("covariance_scale")
        kappa = (f"{scale['value']:.4g} from {' + '.join(map(str, scale_steps(scale)))} injections" if scale
                 else "1 (uncalibrated)")
        print(f"emulator error measured on {error['rows']} independent rows; fit covariance scale κ {kappa}")
        widened = {n: d for n, d in ((scale or {}).get("parameter_variance") or {}).items() if d > 0}
        if widened:
            print("parameter sd √D held beside it: "
                  + ", ".join(f"{n} {d ** 0.5:.3g}" for n, d in widened.items()))
        coverage = (scale or {}).get("coverage_68_95")
        if coverage:
            print(f"their coverage of those injections, 68%/95%: {coverage_text(coverage)}")


@app.command("install")
@user_errors
def install(
    emulator: Annotated[Path, typer.Argument(help="Artifact directory written by `iaemu train`.")],
    metrics: Annotated[Path, typer.Argument(help="Its metrics.json from `iaemu evaluate`.")],
) -> None:
    """Make an artifact the default emulator (the workflow target `default_emulator` runs this)."""
    from emulators.ia.default_emulator import install_default_emulator

    print(f"wrote {install_default_emulator(emulator, metrics)}")
