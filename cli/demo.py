"""The README's main job (`make demo`): the Snakemake workflow on the demo configuration, then the headlines.

Runs both chains end to end (halo catalog, mocks, emulator, validation, an observation at known parameters
and its NUTS fit; jets, tagger, evaluation, signal-fraction fits) and prints where the outputs are and the
headline numbers read back from them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SNAKEFILE = REPO / "workflows" / "Snakefile"


def run_workflow(config: Path, cores: int = 2) -> int:
    """Run the workflow with `config` from the repository root; return snakemake's exit code."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--configfile", str(config),
               "--cores", str(cores)]  # fmt: skip
    return subprocess.call(command, cwd=REPO, env=env)


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def headlines(outdir: Path) -> list[str]:
    """The demo's headline numbers, read from the workflow's outputs under `outdir`."""
    lines = [f"outputs: {outdir}/ia (halos, mocks, emulator/, report/, validation/, fit/) and {outdir}/hep"]
    training = _load(outdir / "ia" / "emulator" / "emulator.json").get("training", {})
    world = training.get("data", {}).get("world")
    if world:
        lines.append(f"IA world of this run: {world['halo_catalog']} ({world['Lbox']:g} Mpc/h box), "
                     f"satellites {world['satellites']}; the shipped emulator's (iaemu fit without "
                     "--emulator): iaemu default-emulator show")  # fmt: skip
    metrics = _load(outdir / "ia" / "report" / "metrics.json").get("summary", {})
    for stat, values in metrics.items():
        lines.append(f"emulator {stat}: median |Δ|/σ_mean {values['median_abs_err_over_sigma_mean']:.2f}, "
                     f"68% coverage {values['coverage_68']:.2f}")  # fmt: skip
    coverage = _load(outdir / "ia" / "validation" / "coverage.json").get("parameters", {})
    if coverage:
        lines.append("validation 68% coverage: " + ", ".join(
            f"{name} {values['coverage_68']:.2f}" for name, values in coverage.items()))  # fmt: skip
    fit = _load(outdir / "ia" / "fit" / "summary.json")
    truth = fit.get("observation", {}).get("sample", "")
    lines.append(f"IA fit of a held-out mock ({truth or 'parameters in ia/observation.h5'}):")
    for name, v in fit.get("parameters", {}).items():
        r_hat = "n/a (one chain)" if v.get("r_hat") is None else f"{v['r_hat']:.3f}"
        lines.append(f"  {name}: {v['mean']:.3g} ± {v['sd']:.2g}, R-hat {r_hat}")
    for report in ("report", "baseline_report"):
        tagger = _load(outdir / "hep" / report / "metrics.json")
        if tagger:
            m = tagger["metrics"]
            lines.append(f"{'tagger' if report == 'report' else 'baseline'} {tagger['model']} "
                         f"({tagger['params']} parameters): AUC {m['auc']['value']:.3f}, 1/εB at εS = 0.3: "
                         f"{m['rejection_30']['value']:.1f}, at εS = 0.5: {m['rejection_50']['value']:.1f}")
    for summary in sorted((outdir / "hep").glob("fit_f*/summary.json")):
        f = _load(summary)["parameters"]["f"]
        lines.append(f"true fraction {summary.parent.name[5:]}: fitted {f['q50']:.3f} "
                     f"(95% interval {f['q2.5']:.3f}–{f['q97.5']:.3f})")  # fmt: skip
    return lines


def main(config: Path = REPO / "workflows" / "config" / "demo.yaml") -> int:
    """Run the demo workflow and print its headlines; return the exit code."""
    start = time.perf_counter()
    code = run_workflow(config)
    outdir = REPO / yaml.safe_load(config.read_text())["outdir"]
    print("\n".join(headlines(outdir)))
    print(f"{'done' if code == 0 else 'FAILED'} in {(time.perf_counter() - start) / 60:.1f} min")
    return code


if __name__ == "__main__":
    sys.exit(main())
