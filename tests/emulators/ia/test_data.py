"""Reading mock datasets (docs/ARCHITECTURE.md 3.1): targets, noise, exclusions counted, bad input refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from common.errors import InputError
from emulators.ia.data import Scalers, read_mocks, split_rows, training_arrays
from tests.emulators.ia.synthetic import write_dataset


def test_targets_and_standard_errors(tmp_path: Path) -> None:
    path = write_dataset(tmp_path / "m.h5", 30, 5, n_bins=6, seed=4)
    data = read_mocks(path)
    with h5py.File(path) as h5:
        xi, omega = h5["xi"][()], h5["omega"][()]
    np.testing.assert_allclose(data.mean[:, 0], xi.mean(axis=1))
    # standard error of the mean, computed independently: sum of squared deviations / (R (R - 1))
    sem2 = ((omega - omega.mean(axis=1, keepdims=True)) ** 2).sum(axis=1) / (5 * 4)
    np.testing.assert_allclose(data.sem2[:, 1], sem2)
    scalers = Scalers.fit(data)
    x, y, s2, mask = training_arrays(data, scalers)
    box = Scalers(np.array([0.0, 10.0, 12.0]), np.array([2.0, 20.0, 16.0]), scalers.center, scalers.scale)
    corners = np.array([[0.0, 15.0, 16.0], [0.5, 10.0, 13.0]])
    assert np.allclose(box.inputs(corners), [[-1, 0, 1], [-0.5, -1, -0.5]])
    assert (
        mask.all() and np.allclose(y.mean(axis=0), 0, atol=1e-5) and np.allclose(y.std(axis=0), 1, atol=1e-4)
    )
    # log ξ: delta-method noise, sem2 / mean^2, in units of the scale
    expected = data.sem2[:, 0] / data.mean[:, 0] ** 2 / scalers.scale[0] ** 2
    np.testing.assert_allclose(s2[:, 0], expected, rtol=1e-5)
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_rows_not_done_and_nonpositive_xi_are_counted(tmp_path: Path) -> None:
    done = np.ones(20, bool)
    done[[3, 7]] = False
    path = write_dataset(tmp_path / "m.h5", 20, 4, n_bins=6, done=done)
    with h5py.File(path, "r+") as h5:
        xi = h5["xi"][()]
        xi[5, :, -1] = -0.01  # row 5, last bin: negative mean ξ
        xi[9, :, -2:] = 0.0
        h5["xi"][...] = xi
    data = read_mocks(path)
    assert len(data.params) == 18 and data.excluded["not_done"] == 2
    assert data.excluded["xi_nonpositive_bins"] == 3 and data.excluded["xi_nonpositive_rows"] == 2
    _, y, _, mask = training_arrays(data, Scalers.fit(data))
    assert (~mask).sum() == 3 and np.all(np.isfinite(y))
    assert mask[:, 1:].all()  # ω and η of those rows still train


def test_nan_rows_are_refused_or_excluded_and_counted(tmp_path: Path) -> None:
    path = write_dataset(tmp_path / "m.h5", 20, 4, n_bins=6)
    with h5py.File(path, "r+") as h5:
        eta = h5["eta"][()]
        eta[[2, 11], 1, 3] = np.nan
        h5["eta"][...] = eta
    with pytest.raises(InputError, match=r"2 finished rows hold NaN.*row 2.*--drop-nan"):
        read_mocks(path)
    data = read_mocks(path, drop_nan=True)
    assert data.excluded["nan"] == 2 and len(data.params) == 18
    assert 2 not in data.row_index and 11 not in data.row_index


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("drop_eta", r"/eta: missing"),
        ("short_omega", r"/omega: expected shape \(10, R, 6\)"),
        ("fewer_realisations", r"expected one shape"),
        ("edges", r"/r_edges: expected shape \(7,\)"),
        ("names", r"param_names has 2 entries, expected 3"),
    ],
)
def test_bad_datasets(tmp_path: Path, change: str, message: str) -> None:
    path = write_dataset(tmp_path / "m.h5", 10, 4, n_bins=6, drop=("eta",) if change == "drop_eta" else ())
    with h5py.File(path, "r+") as h5:
        if change == "short_omega":
            del h5["omega"]
            h5["omega"] = np.zeros((10, 4, 5))
        elif change == "fewer_realisations":
            del h5["omega"]
            h5["omega"] = np.zeros((10, 3, 6))
        elif change == "edges":
            del h5["r_edges"]
            h5["r_edges"] = np.zeros(6)
        elif change == "names":
            h5["params"].attrs["param_names"] = ["a", "b"]
    with pytest.raises(InputError, match=message):
        read_mocks(path)


def test_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "x.h5").write_text("hello")
    with pytest.raises(InputError, match="not an HDF5 file"):
        read_mocks(tmp_path / "x.h5")
    with pytest.raises(InputError, match="no such file"):
        read_mocks(tmp_path / "missing.h5")


def test_split_is_seeded_disjoint_and_complete() -> None:
    tr, va, te = split_rows(100, (0.1, 0.2), seed=3)
    assert (len(tr), len(va), len(te)) == (70, 10, 20)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(100))
    assert all(
        np.array_equal(a, b) for a, b in zip((tr, va, te), split_rows(100, (0.1, 0.2), seed=3), strict=True)
    )
    assert not np.array_equal(te, split_rows(100, (0.1, 0.2), seed=4)[2])


def test_rows_with_recorded_failures_are_excluded_and_counted(tmp_path: Path) -> None:
    path = write_dataset(tmp_path / "failed.h5", 20, 4)
    with h5py.File(path, "r+") as h5:
        for row in (3, 7):  # the simulator gave up on realisation 2 of rows 3 and 7 ...
            h5["omega"][row, 2, :] = np.nan
        h5.attrs["failed"] = np.array([[3, 2], [7, 2]])  # ... and said so
    data = read_mocks(path)
    assert data.excluded["failed_realisations"] == 2 and data.excluded["nan"] == 0
    assert len(data.params) == 18 and not np.isin([3, 7], data.row_index).any()
    with h5py.File(path, "r+") as h5:
        h5["eta"][5, 0, 0] = np.nan  # a NaN nobody recorded is still bad input
    with pytest.raises(InputError, match="1 finished rows hold NaN.*row 5"):
        read_mocks(path)
