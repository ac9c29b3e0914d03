"""`iaemu observation import` + `iaemu fit` on the TNG300 sample-1 tables the repository ships: bins outside
the emulator named, --r-range, exact rebinning onto a fine emulator, and the goodness of fit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.emulators.ia.synthetic import write_dataset

IAEMU = Path(sys.executable).parent / "iaemu"
TNG = Path(__file__).resolve().parents[3] / "examples" / "tng300"
TNG_EDGES = np.logspace(-1, 1.5, 15)
HOD = {"logMmin": 12.54, "sigma_logM": 0.26, "logM0": 12.68, "logM1": 13.48, "alpha": 1.0}
SHORT = ["--chains", "2", "--warmup", "150", "--samples", "150", "--rhat-target", "0", "--quiet"]


def iaemu(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(IAEMU), *map(str, args)], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def sample1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tng") / "sample1.h5"
    edges = "logspace(-1, 1.5, 15)"  # the tables' bins as their README states them
    tables = [a for flag, col in (("--xi", "xi"), ("--omega", "ed"), ("--eta", "ee"))
              for a in (flag, TNG / f"TNG300-1_99-sample_1_{col}.dat")]
    result = iaemu("observation", "import", *tables, "--r-edges", edges, "--source", "TNG300-1 z=0 sample 1",
                   "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_the_shipped_emulator_fails_its_goodness_of_fit_on_tng(sample1: Path, tmp_path: Path) -> None:
    """The shipped emulator (64 Mpc/h world, spherical satellites) misses TNG's ξ and its small-r ω: the fit
    of the three tables says so in one warning line, and summary.json carries χ², dof and p."""
    fixes = [a for name, value in HOD.items() for a in ("--fix", f"{name}={value}")]
    refused = iaemu("fit", "--tng", sample1, "--stats", "omega", *fixes, "--out", tmp_path / "no", *SHORT)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr
    r = 0.5 * (TNG_EDGES[1:] + TNG_EDGES[:-1])
    assert f"bins 13, 14 (r = {r[12]:.3g}, {r[13]:.3g} Mpc/h) lie outside" in lines[0]
    assert "--r-range" in lines[0]
    assert not (tmp_path / "no").exists()
    result = iaemu("fit", "--tng", sample1, *fixes, "--r-range", "0.1", "14", "--interpolate",
                   "--out", tmp_path / "fit", *SHORT)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "fit" / "summary.json").read_text())
    gof = summary["goodness_of_fit"]
    assert gof["n_data"] == 36 and gof["n_free"] == 2 and gof["dof"] == 34 and gof["p_value"] < 1e-3
    assert summary["likelihood"]["interpolated"] and len(summary["likelihood"]["r"]) == 12
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "does not describe the data" in warnings[0]
    assert "goodness of fit: χ² =" in result.stdout and "interpolated in log r" in result.stdout


def test_a_mock_of_the_emulators_own_world_passes(tmp_path: Path) -> None:
    held_out = Path(__file__).resolve().parents[3] / "calibration" / "held_out_default.h5"
    made = iaemu("observation", "from-mock", held_out, "--out", tmp_path / "mock.h5")
    assert made.returncode == 0, made.stderr
    truth = dict(item.split("=") for item in made.stdout.split(" at ")[1].strip().split(", "))
    fixes = [a for name in HOD for a in ("--fix", f"{name}={float(truth[name])}")]
    result = iaemu("fit", "--tng", tmp_path / "mock.h5", *fixes, "--out", tmp_path / "fit", *SHORT)
    assert result.returncode == 0, result.stderr
    gof = json.loads((tmp_path / "fit" / "summary.json").read_text())["goodness_of_fit"]
    assert gof["p_value"] > 0.01 and "warning:" not in result.stderr


def test_the_tng_tables_rebin_exactly_onto_a_fine_emulator(sample1: Path, tmp_path: Path) -> None:
    """A small emulator trained on 28 bins whose edges include TNG's 15: no --interpolate needed, every TNG
    bin is a pair-weighted average of two emulator bins, and the fit runs to its summary."""
    mocks = write_dataset(tmp_path / "fine.h5", 80, 3, seed=2, edges=np.logspace(-1, 1.5, 29))
    trained = iaemu("train", mocks, "--out", tmp_path / "emu", "--ensemble", "1", "--epochs", "3",
                    "--seed", "0", "--device", "cpu", "--quiet")
    assert trained.returncode == 0, trained.stderr
    result = iaemu("fit", "--tng", sample1, "--emulator", tmp_path / "emu", "--stats", "omega,eta",
                   "--out", tmp_path / "fit", *SHORT)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "fit" / "summary.json").read_text())
    likelihood = summary["likelihood"]
    assert likelihood["bins"].startswith("pair-weighted") and not likelihood["interpolated"]
    assert len(likelihood["r"]) == 14 and summary["goodness_of_fit"]["dof"] == 28 - 3


def test_a_range_with_no_bin_is_refused_before_any_work(sample1: Path, tmp_path: Path) -> None:
    result = iaemu("fit", "--tng", sample1, "--r-range", "40", "50", "--out", tmp_path / "fit", *SHORT)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "/r: the range 40..50 Mpc/h selects no bin of 14 bins" in lines[0]
    assert not (tmp_path / "fit").exists()
