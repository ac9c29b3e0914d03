"""Halo catalogs: constructed groups, the preset cache, HDF5 tables, rockstar files, bad input."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import h5py
import halotools
import numpy as np
import pytest

from catalogs.halos.nbody import Snapshot
from catalogs.halos.properties import halo_columns
from catalogs.halos.sources import (
    REQUIRED_COLUMNS,
    catalog_metadata,
    content_hash,
    load_halo_catalog,
    preset_catalog_path,
    read_halo_table,
    write_halo_table,
)
from common.errors import InputError
from tests.catalogs.halos.torch_threads import one_torch_thread

BIN = Path(sys.executable).parent
HLIST = Path(halotools.__file__).parent / "sim_manager" / "tests" / "data" / "dummy_halocat_0.07812.list"
RHO_CRIT = 2.77536627e11  # (Msun/h) / (Mpc/h)^3
OMEGA_M = 0.30966


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("halo-cache")
    with one_torch_thread():
        load_halo_catalog("tiny", seed=0, cache_dir=cache, quiet=True, device="cpu")
    return cache


def test_columns_of_constructed_groups() -> None:
    """Two groups of known members: mass, centre across the boundary, bulk velocity, r_vir, major axis."""
    box, mass = 50.0, 1e10
    rng = np.random.default_rng(0)
    rod = np.column_stack([np.linspace(-1, 1, 40), rng.normal(0, 0.01, 40), rng.normal(0, 0.01, 40)])
    blob = rng.normal(0, 0.1, size=(25, 3))
    positions = np.mod(np.concatenate([rod + [49.5, 10, 10], blob + [20, 30, 40], [[5.0, 5.0, 5.0]]]), box)
    velocities = np.concatenate(
        [
            np.tile([100.0, 0, -50], (40, 1)) + rng.normal(0, 10, (40, 3)),
            rng.normal(0, 10, (25, 3)),
            [[999.0, 999, 999]],
        ]
    )
    labels = np.array([0] * 40 + [1] * 25 + [-1])
    table = halo_columns(Snapshot(positions, velocities, 0.0, box, mass), labels)
    assert set(REQUIRED_COLUMNS) <= set(table)
    np.testing.assert_array_equal(table["halo_npart"], [40, 25])
    np.testing.assert_allclose(table["halo_mvir"], [40 * mass, 25 * mass])
    np.testing.assert_allclose(table["halo_x"][0], np.mod(49.5 + rod[:, 0].mean(), box), atol=1e-9)
    np.testing.assert_allclose(table["halo_vx"], [velocities[:40, 0].mean(), velocities[40:65, 0].mean()])
    # Bryan & Norman (1998) overdensity w.r.t. critical at z = 0: 18 pi^2 + 82 x - 39 x^2, x = Omega_m - 1
    x = OMEGA_M - 1
    delta_c = 18 * np.pi**2 + 82 * x - 39 * x**2
    expected_rvir = (3 * table["halo_mvir"] / (4 * np.pi * delta_c * RHO_CRIT)) ** (1 / 3)
    np.testing.assert_allclose(table["halo_rvir"], expected_rvir, rtol=1e-3)
    assert abs(table["halo_axisA_x"][0]) > 0.999  # the rod lies along x
    assert table["halo_c_to_a"][0] < 0.05 and table["halo_b_to_a"][1] > 0.5
    np.testing.assert_array_equal(table["halo_upid"], -1)
    np.testing.assert_array_equal(table["halo_hostid"], table["halo_id"])
    # published c(M) decreases with mass; Diemer & Joyce 2019 gives c_vir of 5 to 15 for 1e11-1e12 Msun/h
    assert 5 < table["halo_nfw_conc"][1] < 15 and table["halo_nfw_conc"][0] < table["halo_nfw_conc"][1]


def test_second_load_of_a_preset_is_a_file_read(tiny_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = preset_catalog_path("tiny", seed=0, cache_dir=tiny_cache)
    mtime = path.stat().st_mtime_ns
    columns, _ = read_halo_table(path)

    def no_simulation(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached catalog was rebuilt")

    monkeypatch.setattr("catalogs.halos.sources.simulate", no_simulation)
    catalog = load_halo_catalog("tiny", seed=0, cache_dir=tiny_cache, quiet=True)
    assert path.stat().st_mtime_ns == mtime
    for name, values in columns.items():
        np.testing.assert_array_equal(np.asarray(catalog.halo_table[name]), values)
    meta = catalog_metadata(catalog)
    assert meta["Lbox"] == 32.0 and meta["redshift"] == pytest.approx(0.0, abs=1e-12)
    assert meta["particle_mass"] == pytest.approx(RHO_CRIT * OMEGA_M, rel=1e-4)  # (32 / 32)^3 (Mpc/h)^3
    assert len(catalog.halo_table) > 20
    assert np.all(catalog.halo_table["halo_mvir"] >= 20 * meta["particle_mass"] * (1 - 1e-12))
    axes = np.column_stack([catalog.halo_table[f"halo_axisA_{c}"] for c in "xyz"])
    np.testing.assert_allclose(np.linalg.norm(axes, axis=1), 1.0, rtol=1e-6)
    for c in "xyz":
        values = np.asarray(catalog.halo_table[f"halo_{c}"])
        assert np.all((values >= 0) & (values < 32.0))
    with pytest.raises(AssertionError, match="rebuilt"):  # another seed is not in the cache
        load_halo_catalog("tiny", seed=1, cache_dir=tiny_cache, quiet=True)


def test_hdf5_table_round_trip(tiny_cache: Path, tmp_path: Path) -> None:
    columns, metadata = read_halo_table(preset_catalog_path("tiny", seed=0, cache_dir=tiny_cache))
    target = tmp_path / "copy.h5"
    digest = write_halo_table(target, columns, metadata)
    catalog = load_halo_catalog(str(target))
    assert catalog_metadata(catalog)["content_hash"] == digest == metadata["content_hash"]
    loaded = {name: np.asarray(catalog.halo_table[name]) for name in columns}
    for name, values in columns.items():
        np.testing.assert_array_equal(loaded[name], values, err_msg=name)
        assert loaded[name].dtype == values.dtype, name
    assert content_hash(loaded) == digest  # the stored hash is that of the values read back


def test_rockstar_hlist_reads_into_the_same_columns() -> None:
    catalog = load_halo_catalog(str(HLIST))
    table = catalog.halo_table
    assert set(REQUIRED_COLUMNS) <= set(table.colnames)
    raw = np.loadtxt(HLIST, comments="#")
    axis_kpc = raw[:, 48:51]
    shaped = np.linalg.norm(axis_kpc, axis=1) > 0
    rows = raw[shaped]
    np.testing.assert_array_equal(table["halo_id"], rows[:, 1].astype(np.int64))
    np.testing.assert_allclose(table["halo_mvir"], rows[:, 10])
    np.testing.assert_allclose(table["halo_rvir"], rows[:, 11] / 1000.0)  # kpc/h -> Mpc/h
    np.testing.assert_allclose(table["halo_nfw_conc"], rows[:, 11] / rows[:, 12], rtol=1e-6)
    np.testing.assert_allclose(
        np.column_stack([table[f"halo_{c}"] for c in "xyz"]), rows[:, 17:20], rtol=1e-6
    )
    unit = axis_kpc[shaped] / np.linalg.norm(axis_kpc[shaped], axis=1)[:, None]
    np.testing.assert_allclose(np.column_stack([table[f"halo_axisA_{c}"] for c in "xyz"]), unit, atol=1e-6)
    meta = catalog_metadata(catalog)
    assert meta["Lbox"] == 250.0 and meta["redshift"] == pytest.approx(1 / 0.07812 - 1)
    assert catalog.n_dropped_no_shape == int((~shaped).sum()) > 0


def write_table(path: Path, drop: str | None = None, zero_axis: bool = False) -> None:
    n = 5
    columns = {name: np.ones(n) for name in REQUIRED_COLUMNS if name != drop}
    if zero_axis:
        for c in "xyz":
            columns[f"halo_axisA_{c}"][2] = 0.0
    with h5py.File(path, "w") as out:
        for name, values in columns.items():
            out[name] = values
        out.attrs.update({"Lbox": 10.0, "redshift": 0.0, "particle_mass": 1e10})


def test_bad_sources_raise_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="source"):
        load_halo_catalog("no-such-catalog")
    write_table(tmp_path / "missing.h5", drop="halo_rvir")
    with pytest.raises(InputError, match="halo_rvir: missing column"):
        load_halo_catalog(str(tmp_path / "missing.h5"))
    write_table(tmp_path / "zero.h5", zero_axis=True)
    with pytest.raises(InputError, match="zero-length major axis"):
        load_halo_catalog(str(tmp_path / "zero.h5"))
    write_table(tmp_path / "good.h5")
    assert len(load_halo_catalog(str(tmp_path / "good.h5")).halo_table) == 5
    with pytest.raises(InputError, match="halotools:no_such_sim"):
        load_halo_catalog("halotools:no_such_sim")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "iaemu"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


def test_cli_build_writes_the_catalog_and_a_summary(tiny_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "halos.h5"
    result = run_cli(
        "halos",
        "build",
        "--preset",
        "tiny",
        "--out",
        str(out),
        "--seed",
        "0",
        "--quiet",
        "--cache-dir",
        str(tiny_cache),
    )
    assert result.returncode == 0, result.stderr
    columns, metadata = read_halo_table(out)
    cached, _ = read_halo_table(preset_catalog_path("tiny", seed=0, cache_dir=tiny_cache))
    assert set(columns) == set(cached)  # the preset the library built, copied to --out
    for name, values in cached.items():
        np.testing.assert_array_equal(columns[name], values, err_msg=name)
    assert f"halos          {len(columns['halo_id'])}" in result.stdout
    assert f"{metadata['particle_mass']:.3e} Msun/h" in result.stdout
    assert f"{columns['halo_mvir'].max():.3e} Msun/h" in result.stdout
    info = run_cli("halos", "info", str(out))
    assert info.returncode == 0 and metadata["content_hash"][:16] in info.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["halos", "build", "--preset", "huge", "--out", "x.h5"], "--preset"),
        (["halos", "info", "nowhere.txt"], "source"),
        (["halos", "info", "missing.h5"], "halo_rvir"),
        (["halos", "info", "zero.h5"], "zero-length"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    write_table(tmp_path / "missing.h5", drop="halo_rvir")
    write_table(tmp_path / "zero.h5", zero_axis=True)
    args = [str(tmp_path / a) if a.endswith(".h5") and a != "x.h5" else a for a in args]
    result = subprocess.run(
        [str(BIN / "iaemu"), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "x.h5").exists()
