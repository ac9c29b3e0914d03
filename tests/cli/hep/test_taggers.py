"""`toptag train / evaluate / predict` through the installed console script; bad input: one line, exit 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from tests.emulators.taggers.tagger_files import write_toy_split

TOPTAG = Path(sys.executable).parent / "toptag"


def toptag(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TOPTAG), *map(str, args)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    return write_toy_split(d, (150, 150, 60, 200), seed=20)


def test_train_evaluate_predict_chain(files, tmp_path) -> None:
    out = tmp_path / "tagger"
    result = toptag("train", files["top"], files["qcd"], "--val", files["val"], "--model", "pfn",
                    "--out", out, "--epochs", "8", "--batch-size", "32", "--lr", "3e-3", "--device", "cpu",
                    "--seed", "2", "--quiet")
    assert result.returncode == 0, result.stderr
    meta = json.loads((out / "tagger.json").read_text())
    assert meta["model"] == "pfn" and meta["training"]["seed"] == 2
    assert len(meta["training"]["history"]["val_loss"]) == 8
    result = toptag("evaluate", out, files["test"], "--out", tmp_path / "report", "--bootstrap", "30",
                    "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert report["metrics"]["auc"]["value"] > 0.9
    assert {"accuracy", "rejection_30", "rejection_50"} <= set(report["metrics"])
    assert (tmp_path / "report" / "scores.png").is_file()
    result = toptag("predict", out, files["test"], "--out", tmp_path / "scores.h5", "--quiet")
    assert result.returncode == 0, result.stderr
    with h5py.File(tmp_path / "scores.h5") as h5:
        assert h5["score"].shape == (200,) and h5.attrs["model"] == "pfn"


@pytest.mark.parametrize("case", ["not root", "one class", "unknown model", "not a tagger"])
def test_bad_input_is_one_line_and_exit_2(files, tmp_path, case) -> None:
    junk = tmp_path / "junk.root"
    junk.write_text("not a ROOT file")
    argv = {
        "not root": ["train", junk, "--val", files["val"], "--out", tmp_path / "t"],
        "one class": ["train", files["top"], "--val", files["val"], "--out", tmp_path / "t"],
        "unknown model": ["train", files["top"], files["qcd"], "--val", files["val"], "--model", "bdt",
                          "--out", tmp_path / "t"],
        "not a tagger": ["evaluate", tmp_path, files["test"], "--out", tmp_path / "r"],
    }[case]
    result = toptag(*argv)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
    assert not (tmp_path / "t").exists() and not (tmp_path / "r").exists()
