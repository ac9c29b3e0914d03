"""`iaemu simulate` as a user runs it: the same numbers as the library, and bad input ends in one line."""

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from catalogs.halos.sources import load_halo_catalog, write_halo_table
from catalogs.mocks.builder import build_mock_dataset
from catalogs.mocks.design import load_config
from catalogs.mocks.phase_space import TRIAXIAL_COLUMNS
from emulators.ia.data import mock_world
from tests.catalogs.halos.halo_tables import random_box

IAEMU = Path(sys.executable).parent / "iaemu"
CONFIG = (
    "prior:\n  logMmin: [12.2, 13.0]\n  logM1: [13.0, 14.0]\n  alpha: [0.8, 1.0]\n"
    "r_edges: [0.2, 0.5, 1.0, 3.0]\n"
)


@pytest.fixture(scope="module")
def halo_file(tmp_path_factory) -> Path:
    """An HDF5 halo table (the `iaemu halos build --out` format) of a small made-up catalog."""
    table = random_box(n_halos=200, Lbox=40.0).halo_table
    path = tmp_path_factory.mktemp("halos") / "halos.h5"
    columns = {name: np.asarray(table[name]) for name in table.colnames}
    write_halo_table(path, columns, {"Lbox": 40.0, "redshift": 0.0, "particle_mass": 1e9, "name": "made-up"})
    return path


def simulate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IAEMU), "simulate", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_cli_writes_what_the_library_writes(tmp_path, halo_file) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "cli.h5"
    result = simulate(
        "--halos",
        halo_file,
        "--n-points",
        3,
        "--realisations",
        2,
        "--out",
        out,
        "--seed",
        4,
        "--workers",
        2,
        "--config",
        config,
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out) and result.stderr == ""
    library = build_mock_dataset(
        load_halo_catalog(str(halo_file)),
        tmp_path / "lib.h5",
        n_points=3,
        realisations=2,
        seed=4,
        config=load_config(config),
        quiet=True,
    )
    with h5py.File(out) as cli, h5py.File(library) as lib:
        for name in ("params", "r_edges", "xi", "omega", "eta", "n_gal", "done"):
            assert np.array_equal(cli[name][:], lib[name][:]), name
        assert cli["xi"].shape == (3, 2, 3) and cli.attrs["seed"] == 4
        assert '"name": "made-up"' in cli.attrs["halo_catalog"]
    shaped = all(c in load_halo_catalog(str(halo_file)).halo_table.colnames for c in TRIAXIAL_COLUMNS)
    world = mock_world(out)  # what an emulator trained on the file records
    assert world["halo_catalog"] == "made-up" and world["Lbox"] == 40.0
    assert ("ellipsoid" in world["satellites"]) == shaped  # no profile in CONFIG: triaxial where shapes exist


BAD_CONFIGS = {
    "lo_ge_hi": ("prior:\n  sigma_logM: [0.8, 0.2]\n", "sigma_logM: expected lo < hi"),
    "unknown_param": ("prior:\n  logMmax: [12, 13]\n", "unknown parameter ['logMmax']"),
    "bins_beyond_box": ("r_edges: [0.1, 1.0, 20.0]\n", "below Lbox/4"),
    "unknown_satellites": ("satellites: spherical\n", "satellites"),
    "subhalos_missing": ("satellites: subhalo\nr_edges: [0.2, 0.5, 1.0, 3.0]\n",
                         "subhalo satellite profile needs"),
    "elongation_not_positive": ("satellites: triaxial\nsatellite_elongation: 0\n", "satellite_elongation"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exits_2_with_one_line(tmp_path, halo_file, case: str) -> None:
    text, words = BAD_CONFIGS[case]
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    result = simulate(
        "--halos", halo_file, "--n-points", 2, "--out", tmp_path / "m.h5", "--config", config, "-q"
    )
    assert_one_line_exit_2(result, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_halo_source_without_needed_columns(tmp_path) -> None:
    table = random_box(n_halos=50, Lbox=40.0).halo_table
    columns = {name: np.asarray(table[name]) for name in table.colnames if name != "halo_nfw_conc"}
    halos = tmp_path / "halos.h5"
    write_halo_table(halos, columns, {"Lbox": 40.0, "redshift": 0.0, "particle_mass": 1e9})
    result = simulate("--halos", halos, "--n-points", 2, "--out", tmp_path / "m.h5", "-q")
    assert_one_line_exit_2(result, "halo_nfw_conc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["halos.h5"]


def test_a_misspelt_option_is_refused(tmp_path, halo_file) -> None:
    """A near miss of a real option (--n-point for --n-points) is refused, not guessed; bad output paths are
    tested for every command in tests/cli/test_bad_input.py."""
    result = simulate("--halos", halo_file, "--n-point", 2, "--out", tmp_path / "m.h5", "-q")
    assert_one_line_exit_2(result, "No such option: --n-point")
    assert not list(tmp_path.iterdir())


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr, result.stderr


@pytest.mark.slow
def test_tiny_preset_random_orientations_give_zero_omega_and_eta(tmp_path) -> None:
    """On the embedded N-body `tiny` halos, μ_cen = μ_sat = 0 gives ω = η = 0 within the scatter."""
    config = tmp_path / "null.yaml"
    config.write_text(
        "points:\n  - [0.0, 0.0, 12.3, 0.3, 12.0, 13.0, 1.0]\nr_edges: [0.3, 0.6, 1.2, 2.5, 5.0, 7.5]\n"
    )
    out = tmp_path / "null.h5"
    env = {**os.environ, "IAEMU_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        [
            str(IAEMU),
            "simulate",
            "--halos",
            "tiny",
            "--realisations",
            "16",
            "--out",
            str(out),
            "--config",
            str(config),
            "--workers",
            "2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    with h5py.File(out) as f:
        assert len(f.attrs["failed"]) == 0 and f["n_gal"][0].min() > 100
        for name in ("omega", "eta"):
            values = f[name][0]
            err = values.std(axis=0, ddof=1) / np.sqrt(len(values))
            assert np.all(err > 0) and np.all(np.abs(values.mean(axis=0)) < 4 * err), name
