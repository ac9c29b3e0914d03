"""`iaemu observation import` + `iaemu fit` on the TNG300 sample-1 tables the repository ships: bins outside
the emulator named, --r-range, exact rebinning onto a fine emulator, and the goodness of fit."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from emulators.ia.data import read_mocks
from tests.emulators.ia.synthetic import write_dataset

IAEMU = Path(sys.executable).parent / "iaemu"
TNG = Path(__file__).resolve().parents[3] / "examples" / "tng300"
HOD = {"logMmin": 12.54, "sigma_logM": 0.26, "logM0": 12.68, "logM1": 13.48, "alpha": 1.0}
PUBLISHED = ({"mu_cen": 0.81, "mu_sat": 0.35}, {"mu_cen": 0.755, "mu_sat": 0.279})  # IAEmu; Van Alfen et al.
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


def test_the_shipped_emulator_fits_tngs_omega_as_published(sample1: Path, tmp_path: Path) -> None:
    """The shipped emulator's 42 bins hold TNG's 14 as unions of three: the ω-only fit of the tables at the
    published HOD needs neither --r-range nor --interpolate, passes its goodness of fit, and lands within 2σ
    of a published (μ_cen, μ_sat): IAEmu's (0.81, 0.35) or Van Alfen et al.'s (0.755, 0.279)."""
    fixes = [a for name, value in HOD.items() for a in ("--fix", f"{name}={value}")]
    result = iaemu("fit", "--tng", sample1, "--stats", "omega", *fixes, "--out", tmp_path / "fit", *SHORT)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "fit" / "summary.json").read_text())
    likelihood = summary["likelihood"]
    assert likelihood["bins"].startswith("pair-weighted") and not likelihood["interpolated"]
    assert len(likelihood["r"]) == 14
    gof = summary["goodness_of_fit"]
    assert gof["dof"] == 12 and gof["p_value"] > 1e-3 and "warning:" not in result.stderr
    post = summary["parameters"]
    assert any(all(abs(post[n]["mean"] - v) < 2 * post[n]["sd"] for n, v in published.items())
               for published in PUBLISHED), post


def test_a_mock_of_the_emulators_own_world_passes(tmp_path: Path) -> None:
    """A held-out mock of the shipped emulator's world, its covariance from the emulator's noise model: the
    fit at the true HOD passes its goodness of fit."""
    root = Path(__file__).resolve().parents[3]
    held_out = root / "calibration" / "held_out_wide.h5"
    made = iaemu("observation", "from-mock", held_out, "--out", tmp_path / "mock.h5",
                 "--noise-model", root / "emulators" / "ia" / "artifacts" / "default")
    assert made.returncode == 0, made.stderr
    with h5py.File(tmp_path / "mock.h5") as mock:
        row = int(re.search(r"row (\d+)", mock.attrs["source"]).group(1))
        assert "covariance: noise model" in mock.attrs["source"]
        assert np.count_nonzero(mock["cov"][0, 1:]) > 0  # the bins are correlated
    held = read_mocks(held_out)  # the truth, unrounded
    values = held.params[np.flatnonzero(held.row_index == row)[0]].tolist()
    truth = dict(zip(held.param_names, values, strict=True))
    fixes = [a for name in HOD for a in ("--fix", f"{name}={truth[name]!r}")]
    result = iaemu("fit", "--tng", tmp_path / "mock.h5", *fixes, "--out", tmp_path / "fit", *SHORT)
    assert result.returncode == 0, result.stderr
    gof = json.loads((tmp_path / "fit" / "summary.json").read_text())["goodness_of_fit"]
    assert gof["p_value"] > 0.01 and "warning:" not in result.stderr


def test_the_tng_tables_rebin_exactly_onto_a_fine_emulator(sample1: Path, tmp_path: Path) -> None:
    """A small emulator trained on 28 bins whose edges include TNG's 15: no --interpolate needed, every TNG
    bin is a pair-weighted average of two emulator bins, and the fit runs to its summary and its verdict."""
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
    # an emulator of a synthetic world does not describe TNG: one warning line says so
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert summary["goodness_of_fit"]["p_value"] < 1e-3 and len(warnings) == 1, result.stderr
    assert "does not describe the data" in warnings[0]


def test_a_range_with_no_bin_is_refused_before_any_work(sample1: Path, tmp_path: Path) -> None:
    result = iaemu("fit", "--tng", sample1, "--r-range", "40", "50", "--out", tmp_path / "fit", *SHORT)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "/r: the range 40..50 Mpc/h selects no bin of 14 bins" in lines[0]
    assert not (tmp_path / "fit").exists()
