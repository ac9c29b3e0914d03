"""Malformed files given to either CLI get one line naming the file and the field, exit 2, and change
nothing (docs/ARCHITECTURE.md 2): emulator artifacts (3.2), observations (3.3), mock datasets (3.1), halo
tables, jet files (3.4), validation outputs; and checks that cost nothing run before training."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from catalogs.halos.sources import write_halo_table
from common.hashing import hash_files
from emulators.ia.default_emulator import default_emulator_path
from tests.catalogs.halos.halo_tables import random_box
from tests.cli.bad_input import assert_refused, run_cli, snapshot
from tests.emulators.ia.synthetic import write_dataset
from tests.emulators.taggers.tagger_files import write_toy_file


def _edit_json(change: Callable[[dict], object]) -> Callable[[Path], str]:
    def apply(emu: Path) -> str:
        doc = json.loads((emu / "emulator.json").read_text())
        result = change(doc)
        (emu / "emulator.json").write_text(json.dumps(doc if result is None else result))
        return ""

    return apply


def _drop_tensor(emu: Path) -> str:
    """Remove member 0's first tensor (the JSON's weight hash updated, so only the tensor is missing)."""
    tensors = load_file(emu / "weights.safetensors")
    name = sorted(k for k in tensors if k.startswith("member0."))[0]
    del tensors[name]
    save_file(tensors, emu / "weights.safetensors")
    doc = json.loads((emu / "emulator.json").read_text())
    doc["weights"]["sha256"] = hash_files(emu / "weights.safetensors")
    (emu / "emulator.json").write_text(json.dumps(doc))
    return name.split(".", 1)[1]


def _swap_prior(doc: dict) -> None:
    doc["prior"]["lo"], doc["prior"]["hi"] = doc["prior"]["hi"], doc["prior"]["lo"]


DEFECTS: dict[str, tuple[Callable[[Path], str], str]] = {
    "a JSON array": (_edit_json(lambda doc: [doc]), "expected a JSON object"),
    "no forward": (_edit_json(lambda doc: doc.pop("forward") and None), "forward: missing"),
    "no architecture": (_edit_json(lambda doc: doc.pop("architecture") and None), "architecture: missing"),
    "prior lo > hi": (_edit_json(_swap_prior), "prior: expected"),
    "a wrong type": (_edit_json(lambda doc: doc.update(param_names="mu_cen")), "param_names: expected"),
    "a missing tensor": (_drop_tensor, ""),
    "a D for one parameter of seven": (
        _edit_json(lambda doc: doc["emulator_error"].update(covariance_scale={
            "value": 1.2, "parameter_variance": {doc["param_names"][0]: 0.1}}) and None),
        "emulator_error: expected"),
}
ARTIFACT_COMMANDS = {
    "fit": ["iaemu", "fit", "--emulator", "EMU", "--tng", "IN/obs.h5", "--out", "OUT"],
    "evaluate": ["iaemu", "evaluate", "EMU", "IN/m.h5", "--out", "OUT"],
    "validate": ["iaemu", "validate", "EMU", "IN/m.h5", "--out", "OUT"],
    "observation from-mock": ["iaemu", "observation", "from-mock", "IN/m.h5", "--noise-model", "EMU",
                              "--out", "OUT"],
}


def substitute(args: list[str], tmp: Path, **paths: Path) -> list[str]:
    return [str(paths[a.lower()]) if a.lower() in paths else a.replace("IN", str(tmp / "in")) for a in args]


@pytest.mark.parametrize("defect", list(DEFECTS))
@pytest.mark.parametrize("command", list(ARTIFACT_COMMANDS))
def test_a_malformed_emulator_artifact_is_named_by_file_and_key(command, defect, tmp_path, capsys,
                                                               monkeypatch) -> None:
    emu = tmp_path / "emu"
    shutil.copytree(default_emulator_path(), emu)
    change, needle = DEFECTS[defect]
    tensor = change(emu)
    before = snapshot(tmp_path)
    args = substitute(ARTIFACT_COMMANDS[command], tmp_path, emu=emu, out=tmp_path / "out")
    line = assert_refused(run_cli(capsys, monkeypatch, *args), needle)
    assert ("emulator.json" in line or "weights.safetensors" in line) and tensor in line
    assert snapshot(tmp_path) == before


def _observation(path: Path, xi: Callable[[h5py.File], None]) -> Path:
    with h5py.File(path, "w") as h5:
        h5["r"] = np.logspace(-0.9, 1.1, 20)
        xi(h5)
        h5["err_xi"] = np.ones(20)
    return path


@pytest.mark.parametrize(("kind", "write"), [
    ("strings", lambda h5: h5.create_dataset("xi", data=np.array([b"1.0"] * 20))),
    ("a group", lambda h5: h5.create_group("xi")),
])
def test_an_observation_whose_xi_is_not_numbers(kind, write, tmp_path, capsys, monkeypatch) -> None:
    obs = _observation(tmp_path / "obs.h5", write)
    before = snapshot(tmp_path)
    assert_refused(run_cli(capsys, monkeypatch, "iaemu", "fit", "--tng", obs, "--out", tmp_path / "fit"),
                   "obs.h5", "/xi")
    assert snapshot(tmp_path) == before


def _halos(path: Path, column: str, value: float) -> Path:
    table = random_box(n_halos=100, Lbox=40.0).halo_table
    columns = {name: np.asarray(table[name]) for name in table.colnames}
    columns[column] = columns[column].astype(float)
    columns[column][7] = value
    write_halo_table(path, columns, {"Lbox": 40.0, "redshift": 0.0, "particle_mass": 1e9, "name": "bad"})
    return path


@pytest.mark.parametrize(("column", "value"), [("halo_x", np.nan), ("halo_mvir", -1e12), ("halo_y", np.inf)])
@pytest.mark.parametrize("command", ["halos info", "simulate"])
def test_halos_with_unphysical_columns(command, column, value, tmp_path, capsys, monkeypatch) -> None:
    halos = _halos(tmp_path / "halos.h5", column, value)
    args = {"halos info": ["iaemu", "halos", "info", halos],
            "simulate": ["iaemu", "simulate", "--halos", halos, "--n-points", "2",
                         "--out", tmp_path / "m.h5"]}
    before = snapshot(tmp_path)
    assert_refused(run_cli(capsys, monkeypatch, *args[command]), "halos.h5", column, "row 7")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["train", "observation from-mock"])
def test_mocks_whose_radii_decrease(command, tmp_path, capsys, monkeypatch) -> None:
    mocks = write_dataset(tmp_path / "mocks.h5", 10, 4)
    with h5py.File(mocks, "r+") as h5:
        h5["r"][...] = h5["r"][()][::-1]
    args = {"train": ["iaemu", "train", mocks, "--out", tmp_path / "emu", "--epochs", "1"],
            "observation from-mock": ["iaemu", "observation", "from-mock", mocks, "--out", tmp_path / "o.h5"]}
    before = snapshot(tmp_path)
    assert_refused(run_cli(capsys, monkeypatch, *args[command]), "mocks.h5", "/r:", "increasing")
    assert snapshot(tmp_path) == before


def test_error_mocks_are_checked_before_training_and_nothing_is_left(tmp_path, capsys, monkeypatch) -> None:
    mocks = write_dataset(tmp_path / "mocks.h5", 30, 4, n_bins=6)
    other_bins = write_dataset(tmp_path / "bad.h5", 10, 4, n_bins=5)
    before = snapshot(tmp_path)
    run = run_cli(capsys, monkeypatch, "iaemu", "train", mocks, "--out", tmp_path / "emu", "--epochs", "2",
                  "--ensemble", "1", "--device", "cpu", "--error-mocks", other_bins, "--quiet")
    assert_refused(run, "bad.h5", "/r_edges")
    assert snapshot(tmp_path) == before  # no emu/, no emu.checkpoints/


def test_a_truncated_jet_file_in_mix(tmp_path, capsys, monkeypatch) -> None:
    signal = write_toy_file(tmp_path / "sig.root", 300, True, 1)
    background = write_toy_file(tmp_path / "bkg.root", 300, False, 2)
    data = signal.read_bytes()
    signal.write_bytes(data[: int(0.6 * len(data))])
    before = snapshot(tmp_path)
    run = run_cli(capsys, monkeypatch, "toptag", "mix", "--signal", signal, "--background", background,
                  "--fraction", "0.5", "--n", "20", "--out", tmp_path / "mixed.root")
    assert_refused(run, "sig.root")
    assert snapshot(tmp_path) == before


def test_mix_with_one_file_as_signal_and_background(tmp_path, capsys, monkeypatch) -> None:
    jets = write_toy_file(tmp_path / "jets.root", 50, True, 1)
    before = snapshot(tmp_path)
    run = run_cli(capsys, monkeypatch, "toptag", "mix", "--signal", jets, "--background", jets,
                  "--fraction", "0.5", "--n", "10", "--out", tmp_path / "mixed.root")
    assert_refused(run, "jets.root", "signal file too")
    assert snapshot(tmp_path) == before


def test_generate_never_overwrites_a_jet_file_it_did_not_write(tmp_path, capsys, monkeypatch) -> None:
    """A ROOT file at --out that is not this command's output with these options stays as it is."""
    theirs = write_toy_file(tmp_path / "theirs.root", 20, True, 1)
    before = snapshot(tmp_path)
    run = run_cli(capsys, monkeypatch, "toptag", "generate", "--process", "top", "--n", "5", "--out", theirs)
    assert_refused(run, "theirs.root", "not written by toptag generate")
    assert snapshot(tmp_path) == before


HEADER = "row,p0_truth,p1_truth,p0_u,p1_u,p0_sd,p1_sd\n"  # an `iaemu validate` injections.csv's columns


@pytest.mark.parametrize(("name", "text", "needle"), [
    ("coverage.json", '{"run": {"emulator_dig', "coverage.json"),
    ("injections.csv", HEADER + "0,0,0,0.5,0.25,0.1,0.1\n1,0,0,0.4", "injections.csv: row 3"),
    ("injections.csv", "row,p0_truth,p1_truth,p0_u,p1_u\n0,0,0,0.5,0.25\n", "p0_sd, p1_sd missing"),
    ("injections.csv", "row,p0_u,p1_u,p0_sd,p1_sd\n0,0.5,0.25,0.1,0.1\n", "p0_truth, p1_truth missing"),
])
def test_calibrate_scale_on_a_truncated_validation(name, text, needle, tmp_path, capsys, monkeypatch) -> None:
    emu = tmp_path / "emu"
    shutil.copytree(default_emulator_path(), emu)
    validation = tmp_path / "val"
    validation.mkdir()
    (validation / "coverage.json").write_text('{"run": {}}')
    (validation / "injections.csv").write_text(HEADER + "0,0,0,0.5,0.25,0.1,0.1\n")
    (validation / name).write_text(text)
    before = snapshot(tmp_path)
    assert_refused(run_cli(capsys, monkeypatch, "iaemu", "calibrate-scale", emu, validation), needle)
    assert snapshot(tmp_path) == before
