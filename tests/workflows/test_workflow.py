"""The Snakemake workflow: lint, dry runs of every config, and the `ci` config run for real."""

import json
import os
import subprocess
import sys
from pathlib import Path

import arviz as az
import h5py
import numpy as np
import pytest
import uproot
import yaml

from common.hashing import hash_files

REPO = Path(__file__).resolve().parents[2]
WORKFLOW_CONFIGS = [REPO / "workflows" / "config" / f"{name}.yaml" for name in ("ci", "demo", "default")]


def snakemake(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "PATH": path, **(env or {})}
    command = [sys.executable, "-m", "snakemake", "-s", "workflows/Snakefile", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)


def test_lint_is_clean() -> None:
    result = snakemake("--lint")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("config", WORKFLOW_CONFIGS, ids=lambda c: c.stem)
def test_dry_run_plans_every_stage(config: Path, tmp_path: Path) -> None:
    result = snakemake("-n", "-p", "--configfile", str(config), "--config", f"outdir={tmp_path}")
    assert result.returncode == 0, result.stderr
    planned = result.stdout + result.stderr
    for rule in ("halos", "mocks", "train_emulator", "evaluate_emulator", "validate_emulator",
                 "observation_from_mock", "fit_observation", "generate_jets", "train_tagger",
                 "evaluate_tagger", "mix_sample", "fit_fraction"):  # fmt: skip
        assert f"rule {rule}:" in planned, rule
    cfg = yaml.safe_load(config.read_text())
    ia = cfg["ia"]  # ci: one batch of calibration fits, default: two, demo: none
    steps = [n for n in np.atleast_1d(ia["scale_injections"]) if n > 0]
    for k in range(1, 4):
        assert (f"rule scale_validation{'' if k == 1 else k}:" in planned) == (k <= len(steps)), k
    assert ("rule calibrate_scale:" in planned) == bool(steps)
    # Batch k fits its own number of error mocks with its own seed, all with the trained emulator, and the
    # calibration is measured on every batch.
    ia_out = f"{tmp_path}/ia"
    for k, n in enumerate(steps, start=1):
        line = f"iaemu validate {ia_out}/emulator_unscaled {ia_out}/mocks_error.h5 --n-injections {n} "
        assert line in planned, k
        rest = planned.split(line)[1].splitlines()[0]
        assert f"--seed {ia.get('scale_seed', cfg['seed']) + k - 1} --quiet" in rest, k
    if steps:
        folders = " ".join(f"{ia_out}/scale_validation{'' if k == 1 else k}"
                           for k in range(1, len(steps) + 1))
        assert f"iaemu calibrate-scale {ia_out}/emulator {folders} >" in planned


def test_ci_config_runs_both_chains_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "ci"
    result = snakemake(
        "--configfile", "workflows/config/ci.yaml", "--config", f"outdir={out}", "--cores", "2",
        env={"IAEMU_CACHE": str(tmp_path / "cache")}, timeout=1500,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    # The IA fit is of the first usable held-out mock and echoes its true parameters.
    summary = json.loads((out / "ia" / "fit" / "summary.json").read_text())
    with h5py.File(out / "ia" / "mocks_test.h5") as f:
        params, names = f["params"][()], [str(n) for n in f["params"].attrs["param_names"]]
    truth = dict(item.split("=") for item in summary["observation"]["sample"].split(": ")[1].split(", "))
    assert list(truth) == names
    row = int(summary["observation"]["source"].split("row ")[1].split(",")[0])
    np.testing.assert_allclose([float(v) for v in truth.values()], params[row], rtol=1e-5)
    assert set(summary["parameters"]) == set(names)
    posterior = az.from_netcdf(out / "ia" / "fit" / "posterior.nc")
    assert "diverging" in posterior.sample_stats and "num_steps" in posterior.sample_stats
    # The mixed sample holds exactly the configured fraction of top jets, and its fit reports that fraction.
    with uproot.open(out / "hep" / "mixed_f0.2.root") as f:
        top = f["tree"]["label_Tbqq"].array(library="np")
    assert top.size == 50 and top.sum() == 10
    fraction = json.loads((out / "hep" / "fit_f0.2" / "summary.json").read_text())["parameters"]["f"]
    assert 0.0 <= fraction["q2.5"] < fraction["q50"] < fraction["q97.5"] <= 1.0
    assert fraction["q2.5"] < 0.2 < fraction["q97.5"], fraction  # the true fraction inside its 95% interval
    for name in ("metrics.json", "roc.png"):
        assert (out / "hep" / "report" / name).is_file()
    # The workflow's own `toptag train` line trains on the training files and validates on both classes.
    training = json.loads((out / "hep" / "tagger" / "tagger.json").read_text())["training"]
    hep = out / "hep"
    assert training["train_files"] == [str(hep / "top_train.root"), str(hep / "qcd_train.root")]
    assert training["val_files"] == [str(hep / "top_val.root"), str(hep / "qcd_val.root")]
    assert training["n_val"] == 100
    for name in ("metrics.json", "zscores.png"):
        assert (out / "ia" / "report" / name).is_file()
    coverage = json.loads((out / "ia" / "validation" / "coverage.json").read_text())
    assert set(coverage["parameters"]) == set(names)
    # The emulator downstream is the trained one with κ and D measured on 3 fits of the error mocks.
    def error_entry(name: str) -> dict:
        return json.loads((out / "ia" / name / "emulator.json").read_text())["emulator_error"]

    scale = error_entry("emulator")["covariance_scale"]
    assert scale["injections"] == [3] and scale["parameters"] == len(names) and scale["value"] > 0
    assert set(scale["parameter_variance"]) == set(names)
    assert "covariance_scale" not in error_entry("emulator_unscaled")
    assert scale["validations"][0]["mocks_sha256"] == hash_files(out / "ia" / "mocks_error.h5")
