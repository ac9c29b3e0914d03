"""`toptag fit` end to end on small toy ROOT files: outputs, agreement with the library, bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from emulators.taggers.registry import build_tagger, save_tagger
from emulators.taggers.report import predict_file
from inference.templates.fit import fit_signal_fraction
from tests.emulators.taggers.tagger_files import write_toy_file

TOPTAG = Path(sys.executable).parent / "toptag"
SETTINGS = ["--bins", "5", "--chains", "2", "--warmup", "200", "--samples", "300", "--seed", "3"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("toptag_fit")
    torch.manual_seed(0)
    save_tagger(build_tagger("pfn", {"hidden": 16, "latent": 16}), "pfn", d / "tagger")
    return {"dir": d, "tagger": d / "tagger",
            "signal": write_toy_file(d / "sig.root", 400, True, 30),
            "background": write_toy_file(d / "bkg.root", 400, False, 31),
            "data": write_toy_file(d / "mixed.root", 300, None, 32)}  # half top: f = 0.5


def toptag_fit(inputs: dict[str, Path], out: Path, *extra: str, **paths: Path) -> subprocess.CompletedProcess:
    files = {k: paths.get(k, inputs[k]) for k in ("data", "signal", "background")}
    argv = [str(TOPTAG), "fit", str(paths.get("tagger", inputs["tagger"])), "--out", str(out), "--quiet",
            *(arg for k, v in files.items() for arg in (f"--{k}", str(v))), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600)


def test_fit_command_writes_the_fit_and_agrees_with_the_library(inputs: dict[str, Path]) -> None:
    out = inputs["dir"] / "fit"
    result = toptag_fit(inputs, out, *SETTINGS)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["corner.png", "posterior.nc", "ppc.png", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    f = summary["parameters"]["f"]
    assert f["q2.5"] < 0.5 < f["q97.5"]
    assert f"f = {f['q50']:.4f}" in result.stdout.strip().splitlines()[-1]
    assert summary["run"]["seed"] == 3 and summary["inputs"]["data"] == str(inputs["data"])

    # the same numbers from the library on the tagger's scores (same bins, settings and seed)
    scores = {}
    for role in ("data", "signal", "background"):
        predict_file(inputs["tagger"], inputs[role], inputs["dir"] / f"{role}.h5", quiet=True)
        import h5py

        with h5py.File(inputs["dir"] / f"{role}.h5") as h5:
            scores[role] = h5["score"][:]
    fit = fit_signal_fraction(scores["data"], scores["signal"], scores["background"], bins=5, chains=2,
                              warmup=200, samples=300, seed=3, quiet=True)
    assert np.median(fit.fraction) == pytest.approx(f["q50"], rel=1e-6)
    assert summary["templates"]["data_counts"] == fit.data.counts.tolist()


def one_line_exit_2(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_tagger_directory_without_its_config(inputs: dict[str, Path]) -> None:
    bare = inputs["dir"] / "bare"
    bare.mkdir()
    out = inputs["dir"] / "fit_bare"
    one_line_exit_2(toptag_fit(inputs, out, tagger=bare), "bare", "tagger.json")
    assert not out.exists()


def test_empty_template_file(inputs: dict[str, Path]) -> None:
    empty = inputs["dir"] / "empty.root"
    import uproot

    with uproot.recreate(empty) as f:
        f.mktree("tree", {"jet_pt": "float32"})
    out = inputs["dir"] / "fit_empty"
    one_line_exit_2(toptag_fit(inputs, out, signal=empty), "empty.root", "no jets")
    assert not out.exists()


def test_missing_data_file(inputs: dict[str, Path]) -> None:
    out = inputs["dir"] / "fit_missing"
    one_line_exit_2(toptag_fit(inputs, out, data=inputs["dir"] / "nope.root"), "nope.root", "--data")
    assert not out.exists()


def test_identical_templates_are_refused_before_sampling(inputs: dict[str, Path]) -> None:
    """The background a byte-for-byte copy of the signal: the fraction would be unconstrained."""
    copy = inputs["dir"] / "sig_copy.root"
    copy.write_bytes(inputs["signal"].read_bytes())
    out = inputs["dir"] / "fit_identical"
    one_line_exit_2(toptag_fit(inputs, out, *SETTINGS, background=copy), "templates", "identical")
    assert not out.exists()


def test_swapped_signal_and_background_are_refused_before_sampling(inputs: dict[str, Path]) -> None:
    """Whichever file the (untrained) tagger scores lower is passed as --signal."""
    means = {}
    for role in ("signal", "background"):
        predict_file(inputs["tagger"], inputs[role], inputs["dir"] / f"mean_{role}.h5", quiet=True)
        import h5py

        with h5py.File(inputs["dir"] / f"mean_{role}.h5") as h5:
            means[role] = float(np.mean(h5["score"][:]))
    low, high = sorted(("signal", "background"), key=means.get)
    out = inputs["dir"] / "fit_swapped"
    result = toptag_fit(inputs, out, *SETTINGS, signal=inputs[low], background=inputs[high])
    one_line_exit_2(result, "swapped")
    assert not out.exists()
