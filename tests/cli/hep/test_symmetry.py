"""`toptag discover-symmetry` and `toptag train --metric` through the installed console script; bad input: one
line on stderr, exit 2, nothing written."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from catalogs.jets.rootio import write_jets
from emulators.taggers.symmetry_analysis import MINKOWSKI
from tests.emulators.taggers.tagger_files import write_toy_file

TOPTAG = os.path.join(os.path.dirname(sys.executable), "toptag")


def toptag(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TOPTAG, *map(str, args)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sym")
    no_momenta = d / "no_momenta.root"
    write_jets(no_momenta, [{"jet_pt": np.full(100, 600.0), "label_Tbqq": np.ones(100, bool),
                             "label_QCD": np.zeros(100, bool)}])
    return {"top": write_toy_file(d / "top.root", 120, True, seed=30),
            "qcd": write_toy_file(d / "qcd.root", 120, False, seed=31),
            "val": write_toy_file(d / "val.root", 60, None, seed=32),
            "few": write_toy_file(d / "few.root", 40, True, seed=33),
            "no_momenta": no_momenta}


def discover(files, out, *extra: object) -> subprocess.CompletedProcess[str]:
    return toptag("discover-symmetry", files["top"], files["qcd"], "--out", out, "--generators", "3",
                  "--epochs", "2", "--batch-size", "32", "--seed", "1", "--quiet", *extra)


def test_discover_symmetry_writes_its_folder_and_one_line(files, tmp_path) -> None:
    out = tmp_path / "sym"
    result = discover(files, out)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{out}: 3 generators from 240 jets")
    assert "signature" in lines[0] and "so(1,3) subspace similarity" in lines[0]
    summary = json.loads((out / "symmetry.json").read_text())
    assert np.shape(summary["basis"]) == (3, 4, 4) and np.shape(summary["invariant_form"]["A"]) == (4, 4)
    assert len(summary["invariant_form"]["eigenvalues"]) == 4
    assert sum(summary["invariant_form"]["signature"].values()) == 4
    assert 0 <= summary["minkowski_cosine"] <= 1 and 0 <= summary["so13_subspace_similarity"] <= 1
    # the saved analysis is that of the saved basis, recomputed here
    basis, a = np.asarray(summary["basis"]), np.asarray(summary["invariant_form"]["A"])
    np.testing.assert_allclose(summary["invariant_form"]["eigenvalues"], np.linalg.eigvalsh(a), atol=1e-9)
    cosine = abs(np.sum(a * MINKOWSKI)) / (np.linalg.norm(a) * np.linalg.norm(MINKOWSKI))
    assert summary["minkowski_cosine"] == pytest.approx(cosine, rel=1e-9)
    unit = basis / np.linalg.norm(basis, axis=(1, 2), keepdims=True)
    residual = np.sqrt(sum(np.linalg.norm(g.T @ a + a @ g) ** 2 for g in unit))  # ‖A‖_F = 2 = √4
    assert residual == pytest.approx(2 * summary["invariant_form"]["singular_values"][0], rel=1e-6, abs=1e-9)
    assert summary["settings"]["generators"] == 3 and summary["settings"]["constituents"] == 2
    assert summary["settings"]["momentum_scale_gev"] == 100.0 and summary["settings"]["device"] == "cpu"
    assert summary["data"]["n_jets"] == 240
    assert summary["data"]["per_label"] == {"label_QCD": 120, "label_Tbqq": 120}
    assert len(summary["history"]["d_real"]) == 2 and summary["timings"]["epochs_run"] == 2
    assert (out / "symmetry.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / ".sym.ckpt").exists()  # the checkpoint goes once the folder is written
    again = discover(files, tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "again" / "symmetry.json").read_text())["basis"] == summary["basis"]


def test_train_takes_the_discovered_metric(files, tmp_path) -> None:
    sym = tmp_path / "sym"
    assert discover(files, sym).returncode == 0
    metric = np.ravel(json.loads((sym / "symmetry.json").read_text())["invariant_form"]["A"])
    out = tmp_path / "tagger"
    result = toptag("train", files["top"], files["qcd"], "--val", files["val"], "--out", out, "--epochs", "1",
                    "--batch-size", "32", "--device", "cpu", "--metric", sym / "symmetry.json", "--quiet")
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "tagger.json").read_text())["config"]
    np.testing.assert_allclose(config["metric"], metric)
    result = toptag("train", files["top"], files["qcd"], "--val", files["val"], "--out", tmp_path / "pfn",
                    "--model", "pfn", "--metric", sym / "symmetry.json")
    assert result.returncode == 2 and "--metric" in result.stderr and not (tmp_path / "pfn").exists()


@pytest.mark.parametrize("case", ["fewer jets than a batch", "no four-momenta", "no generators", "not root"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(files, tmp_path, case) -> None:
    junk = tmp_path / "junk.root"
    junk.write_text("not a ROOT file")
    out = tmp_path / "sym"
    argv, expected = {
        "fewer jets than a batch": ([files["few"], "--batch-size", "64"], "fewer than one batch"),
        "no four-momenta": ([files["no_momenta"]], "part_energy"),
        "no generators": ([files["top"], "--generators", "0"], "generators"),
        "not root": ([junk], "not a readable ROOT file"),
    }[case]
    result = toptag("discover-symmetry", *argv, "--out", out, "--epochs", "1", "--quiet")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")
    assert expected in result.stderr
    assert not out.exists() and not (tmp_path / ".sym.ckpt").exists()
