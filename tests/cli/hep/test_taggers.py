"""`toptag train / evaluate / predict` through the installed console script; bad input: one line, exit 2."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from tests.emulators.taggers.tagger_files import write_toy_file, write_toy_split

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
        score, label = h5["score"][()], h5["label"][()]
    # the same tagger on the same jets: predict's scores give evaluate's AUC (Mann-Whitney U / n_top n_qcd)
    top = label == 1
    assert 0 < top.sum() < len(label) and (label[~top] == 0).all()
    auc = mannwhitneyu(score[top], score[~top]).statistic / (top.sum() * (~top).sum())
    assert auc == pytest.approx(report["metrics"]["auc"]["value"], abs=1e-6)


@pytest.fixture(scope="module")
def small_tagger(files, tmp_path_factory):
    """A PFN trained for one epoch on at most 12 leading constituents per jet."""
    out = tmp_path_factory.mktemp("small") / "tagger"
    result = toptag("train", files["top"], files["qcd"], "--val", files["val"], "--model", "pfn",
                    "--config", "hidden=8", "--config", "latent=8", "--max-constituents", "12", "--out", out,
                    "--epochs", "1", "--device", "cpu", "--quiet")
    assert result.returncode == 0, result.stderr
    return out


def test_max_constituents_is_recorded_and_applied_by_predict(files, small_tagger, tmp_path) -> None:
    from catalogs.jets.rootio import read_jets
    from emulators.taggers.registry import load_tagger, predict_scores

    meta = json.loads((small_tagger / "tagger.json").read_text())
    assert meta["training"]["max_particles"] == 12 and meta["config"]["hidden"] == 8
    result = toptag("predict", small_tagger, files["test"], "--out", tmp_path / "s.h5", "--quiet")
    assert result.returncode == 0, result.stderr
    jets = read_jets(files["test"])  # up to 24 constituents, pT-ordered
    model, _ = load_tagger(small_tagger)
    with h5py.File(tmp_path / "s.h5") as h5:
        scores = h5["score"][()]
    leading = predict_scores(model, jets.p4[:, :12], jets.mask[:, :12])
    every = predict_scores(model, jets.p4, jets.mask)
    np.testing.assert_allclose(scores, leading, rtol=1e-5)
    assert np.abs(scores - every).max() > 1e-4  # the cut matters for these jets


def test_single_class_validation_set_is_refused(files, tmp_path) -> None:
    other_top = write_toy_file(tmp_path / "top2.root", 40, True, 99)
    result = toptag("train", files["top"], files["qcd"], "--val", other_top, "--out", tmp_path / "t")
    assert result.returncode == 2 and "validation files hold 40 top and 0 QCD" in result.stderr
    assert not (tmp_path / "t").exists()


BAD_TAGGER_INPUT = {
    "not root": (["train", "JUNK", "--val", "VAL"], "junk.root"),
    "one class": (["train", "TOP", "--val", "VAL"], "both classes"),
    "unknown model": (["train", "TOP", "QCD", "--val", "VAL", "--model", "bdt"], "--model"),
    "not a tagger": (["evaluate", "TMP", "TEST"], "not a tagger directory"),
    "zero constituents": (["train", "TOP", "QCD", "--val", "VAL", "--max-constituents", "0"],
                          "--max-constituents"),
    "negative lr": (["train", "TOP", "QCD", "--val", "VAL", "--lr", "-1"], "--lr"),
    "nan lr": (["train", "TOP", "QCD", "--val", "VAL", "--lr", "nan"], "--lr"),
    "zero jets": (["train", "TOP", "QCD", "--val", "VAL", "--max-jets", "0"], "--max-jets"),
    "beams with pfn": (["train", "TOP", "QCD", "--val", "VAL", "--model", "pfn", "--beams"], "--beams"),
    "bad setting": (["train", "TOP", "QCD", "--val", "VAL", "--config", "hidden=wide"], "hidden"),
    "setting twice": (["train", "TOP", "QCD", "--val", "VAL", "--config", "hidden=8", "--config",
                       "hidden=9"], "given twice"),
    "unknown reference": (["train", "TOP", "QCD", "--val", "VAL", "--config", 'references=["x"]'],
                          "references"),
    "bad precision": (["train", "TOP", "QCD", "--val", "VAL", "--precision", "fp8"], "--precision"),
    "no bootstrap": (["evaluate", "TAGGER", "TEST", "--bootstrap", "0"], "--bootstrap"),
    "no part_energy": (["evaluate", "TAGGER", "NOENERGY"], "part_energy"),
    "flipped weights": (["evaluate", "FLIPPED", "TEST"], "sha256"),
}


@pytest.mark.parametrize("case", list(BAD_TAGGER_INPUT))
def test_bad_input_is_one_line_and_exit_2(files, small_tagger, tmp_path, case) -> None:
    import uproot

    junk = tmp_path / "junk.root"
    junk.write_text("not a ROOT file")
    flipped = tmp_path / "flipped"
    shutil.copytree(small_tagger, flipped)
    data = bytearray((flipped / "weights.safetensors").read_bytes())
    data[-3] ^= 0x01
    (flipped / "weights.safetensors").write_bytes(bytes(data))
    no_energy = tmp_path / "noenergy.root"
    with uproot.open(files["test"]) as f:
        arrays = f["tree"].arrays(library="ak")
    with uproot.recreate(no_energy) as f:
        f["tree"] = {name: arrays[name] for name in arrays.fields if name != "part_energy"}
    names = {"JUNK": junk, "VAL": files["val"], "TOP": files["top"], "QCD": files["qcd"], "TMP": tmp_path,
             "TEST": files["test"], "TAGGER": small_tagger, "FLIPPED": flipped, "NOENERGY": no_energy}
    argv, culprit = BAD_TAGGER_INPUT[case]
    out = tmp_path / "out"
    result = toptag(*[names.get(a, a) for a in argv], "--out", out)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
    assert culprit in lines[0]
    assert not out.exists() and not list(tmp_path.glob(".out*"))
