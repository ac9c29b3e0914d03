"""The dataset builder: contract 3.1, reproducibility, failures recorded, kill-and-resume, bad input."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from catalogs.mocks.builder import build_mock_dataset, realisation_seed
from catalogs.mocks.correlations import galaxy_arrays, measure
from catalogs.mocks.design import PriorBox, RunConfig
from catalogs.mocks.hod import PARAM_NAMES, HodIAModel
from common.errors import InputError
from tests.catalogs.halos.halo_tables import random_box

ROOT = Path(__file__).resolve().parents[3]
DATASETS = ("params", "r_edges", "r", "xi", "omega", "eta", "n_gal", "done")
BOX = {
    "logMmin": [12.2, 13.0],
    "sigma_logM": [0.2, 0.5],
    "logM0": [11.5, 12.5],
    "logM1": [13.0, 14.0],
    "alpha": [0.8, 1.1],
}
EDGES = np.logspace(-1, 1, 9)


def small_config(**changes) -> RunConfig:
    return RunConfig(prior=PriorBox.from_mapping(BOX), r_edges=EDGES, **changes)


def build(out: Path, **kwargs) -> Path:
    kwargs = {"n_points": 3, "realisations": 2, "seed": 1, "config": small_config(), "quiet": True, **kwargs}
    return build_mock_dataset(random_box(n_halos=250, Lbox=45.0), out, **kwargs)


def read(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {name: f[name][:] for name in DATASETS} | {"attrs": dict(f.attrs)}


def test_dataset_follows_the_contract_and_the_direct_computation(tmp_path) -> None:
    data = read(build(tmp_path / "mocks.h5"))
    n, r, b = 3, 2, len(EDGES) - 1
    assert data["params"].shape == (n, 7) and data["params"].dtype == np.float64
    for name in ("xi", "omega", "eta"):
        assert data[name].shape == (n, r, b) and data[name].dtype == np.float64
    assert data["n_gal"].shape == (n, r) and data["n_gal"].dtype == np.int64
    assert data["done"].dtype == bool and data["done"].all()
    assert np.array_equal(data["r_edges"], EDGES) and np.allclose(data["r"], (EDGES[1:] + EDGES[:-1]) / 2)
    attrs = data["attrs"]
    assert attrs["seed"] == 1 and attrs["realisations"] == r and len(attrs["failed"]) == 0
    assert json.loads(attrs["halo_catalog"])["Lbox"] == 45.0
    assert "RadialSatelliteAlignment" in json.loads(attrs["model"])["components"].values()
    with h5py.File(tmp_path / "mocks.h5") as f:
        assert list(f["params"].attrs["param_names"]) == list(PARAM_NAMES)
        lo, hi = f["params"].attrs["prior_lo"], f["params"].attrs["prior_hi"]
    assert np.all((data["params"] >= lo) & (data["params"] <= hi)) and lo[2] == 12.2 and hi[6] == 1.1
    # one stored realisation, recomputed by hand from its seed
    model = HodIAModel(random_box(n_halos=250, Lbox=45.0))
    galaxies = model.populate(data["params"][2], realisation_seed(1, 2, 1))
    direct = measure(*galaxy_arrays(galaxies), EDGES, 45.0)
    assert data["n_gal"][2, 1] == len(galaxies)
    for name in ("xi", "omega", "eta"):
        assert np.array_equal(data[name][2, 1], direct[name])
    assert not np.array_equal(data["omega"][2, 0], data["omega"][2, 1])  # realisations differ
    assert not (tmp_path / ".mocks.h5.parts").exists() and sorted(os.listdir(tmp_path)) == ["mocks.h5"]


def test_same_seed_same_numbers_with_any_workers_other_seed_differs(tmp_path) -> None:
    one = read(build(tmp_path / "a.h5", workers=1))
    two = read(build(tmp_path / "b.h5", workers=2))
    other = read(build(tmp_path / "c.h5", seed=2))
    for name in DATASETS:
        assert np.array_equal(one[name], two[name]), name
    assert one["attrs"]["run_key"] == two["attrs"]["run_key"]
    assert not np.allclose(one["params"], other["params"]) and not np.allclose(one["xi"], other["xi"])


def test_failed_realisations_are_recorded_not_averaged(tmp_path) -> None:
    """A point with a handful of galaxies leaves the smallest bin empty (NaN) in every attempt."""
    rich = [0.5, 0.5, 12.3, 0.3, 12.0, 13.0, 1.0]
    sparse = [0.5, 0.5, 14.4, 0.2, 13.9, 15.0, 1.2]  # only the few heaviest halos hold a galaxy
    config = RunConfig(points=np.array([rich, sparse]), r_edges=np.logspace(-2, 1, 9), max_retries=2)
    data = read(build(tmp_path / "mocks.h5", n_points=None, config=config))
    assert data["done"].all()
    assert np.all(np.isfinite(data["xi"][0])) and np.all(data["n_gal"][0] > 0)
    assert (
        np.all(np.isnan(data["xi"][1]))
        and np.all(np.isnan(data["omega"][1]))
        and np.all(data["n_gal"][1] == -1)
    )
    assert data["attrs"]["failed"].tolist() == [[1, 0], [1, 1]]
    reasons = json.loads(data["attrs"]["failures"])
    assert all("non-finite" in why and "3 attempts" in why for _, _, why in reasons)


def test_a_failed_attempt_is_retried_with_the_next_seed(tmp_path) -> None:
    """Each stored realisation is its first attempt with finite statistics, found here by hand."""
    point = [0.5, 0.5, 12.5, 0.3, 12.0, 14.2, 1.0]  # few satellites: the 0.01-0.02 Mpc/h bin is often empty
    edges = np.logspace(-2, 1, 9)
    config = RunConfig(points=np.array([point]), r_edges=edges, max_retries=2)
    data = read(build(tmp_path / "mocks.h5", n_points=None, realisations=4, config=config))
    model = HodIAModel(random_box(n_halos=250, Lbox=45.0))
    first_good = []
    for real in range(4):
        for attempt in range(3):
            galaxies = model.populate(np.array(point), realisation_seed(1, 0, real, attempt))
            stats = measure(*galaxy_arrays(galaxies), edges, 45.0)
            if all(np.all(np.isfinite(v)) for v in stats.values()):
                first_good.append(attempt)
                assert np.array_equal(data["omega"][0, real], stats["omega"])
                assert data["n_gal"][0, real] == len(galaxies)
                break
        else:
            first_good.append(None)
            assert np.all(np.isnan(data["omega"][0, real])) and data["n_gal"][0, real] == -1
    assert any(k not in (0, None) for k in first_good)  # some realisation needed a retry
    assert data["attrs"]["failed"].tolist() == [[0, r] for r, k in enumerate(first_good) if k is None]


def test_a_run_with_other_settings_is_not_resumed_into(tmp_path) -> None:
    build(tmp_path / "mocks.h5", seed=1)
    before = read(tmp_path / "mocks.h5")
    with pytest.raises(InputError, match="other settings"):
        build(tmp_path / "mocks.h5", seed=3)
    assert np.array_equal(read(tmp_path / "mocks.h5")["xi"], before["xi"])


def test_unwritable_output_is_refused_before_any_work(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match="not writable"):
        build(blocker / "mocks.h5")
    assert sorted(os.listdir(tmp_path)) == ["file"]


def resumable_run(out: str | Path, workers: int | str) -> None:
    """The run that the kill-and-resume test interrupts (10 rows, a row snapshot after every row)."""
    build(Path(out), n_points=10, seed=5, workers=int(workers), checkpoint_seconds=0.0)


RUN_SCRIPT = ("import sys; from tests.catalogs.mocks.test_builder import resumable_run; "
              "resumable_run(*sys.argv[1:])")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reference") / "reference.h5"
    resumable_run(out, workers=1)
    return read(out)


def _rows_done(out: Path) -> int:
    parts = out.parent / f".{out.name}.parts"
    done = set()
    try:
        with h5py.File(out, "r") as f:
            done |= set(np.flatnonzero(f["done"][:]).tolist())
    except (OSError, KeyError):
        pass
    done |= {int(p.name[4:12]) for p in parts.glob("row_*.npz")} if parts.exists() else set()
    return len(done)


def _run_and_kill(out: Path, kill_after: int, workers: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_SCRIPT, str(out), str(workers)],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while _rows_done(out) < kill_after:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        assert proc.poll() is None, "the run ended before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes
        proc.wait()


@pytest.mark.parametrize("workers", [1, 2])
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, workers: int, uninterrupted: dict) -> None:
    out = tmp_path / "killed.h5"
    _run_and_kill(out, kill_after=2, workers=workers)
    first = _rows_done(out)
    _run_and_kill(out, kill_after=first + 3, workers=workers)
    assert 2 <= first < _rows_done(out) < 10
    resumable_run(out, workers)  # and finish
    resumed = read(out)
    for name in DATASETS:
        assert np.array_equal(resumed[name], uninterrupted[name], equal_nan=name != "done"), name
    assert resumed["done"].all() and len(resumed["params"]) == 10
    assert sorted(os.listdir(tmp_path)) == ["killed.h5"]


def test_thousands_of_failures_are_written_and_resumed(tmp_path) -> None:
    """More failure records than an HDF5 attribute of the oldest format holds (64 KB) still save and load."""
    from catalogs.mocks.store import MockStore

    n_rows = 3000
    plan = {"run_key": "k", "param_names": list(PARAM_NAMES), "created": "now"}
    store = MockStore(tmp_path / "m.h5", plan, n_rows, 2, 4)
    store.open()
    store.done[:] = True
    store.failures = {(row, k): f"non-finite xi in row {row} (after 2 attempts)" for row in range(n_rows)
                      for k in range(2)}
    lo, hi = np.zeros(7), np.ones(7)
    store.save(np.zeros((n_rows, 7)), lo, hi, np.logspace(-1, 1, 5), {}, final=True)
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert len(json.dumps(json.loads(f.attrs["failures"]))) > 65536
        assert f.attrs["failed"].shape == (2 * n_rows, 2)
    again = MockStore(tmp_path / "m.h5", plan, n_rows, 2, 4)
    again.open()
    assert again.failures == store.failures and again.done.all()
