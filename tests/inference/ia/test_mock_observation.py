"""An observation from a mock row: mean of the realisations, variance of that mean, the true parameters."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from common.errors import InputError
from inference.ia.mock_observation import observation_from_mock
from inference.ia.observations import read_observation
from tests.emulators.ia.synthetic import write_dataset


def test_values_covariance_and_truth_match_the_row(tmp_path: Path) -> None:
    mocks = write_dataset(tmp_path / "mocks.h5", n=6, n_real=5, seed=4)
    _, truth = observation_from_mock(mocks, row=3, out=tmp_path / "obs.h5")
    obs = read_observation(tmp_path / "obs.h5")
    with h5py.File(mocks) as f:
        cube = np.stack([f[s][3] for s in ("xi", "omega", "eta")])  # (3, R, B)
        params, names = f["params"][3], list(f["params"].attrs["param_names"])
    np.testing.assert_allclose(obs.data_vector(), cube.mean(axis=1).ravel(), rtol=1e-12)
    np.testing.assert_allclose(np.diag(obs.cov), (cube.var(axis=1, ddof=1) / 5).ravel(), rtol=1e-12)
    assert np.count_nonzero(obs.cov - np.diag(np.diag(obs.cov))) == 0
    assert list(truth) == [n.decode() if isinstance(n, bytes) else n for n in names]
    np.testing.assert_allclose(list(truth.values()), params)
    assert "row 3" in obs.attrs["source"]


def test_unfinished_row_is_refused_and_nothing_written(tmp_path: Path) -> None:
    done = np.array([True, True, False, True])
    mocks = write_dataset(tmp_path / "mocks.h5", n=4, n_real=3, done=done)
    with pytest.raises(InputError, match="row 2 is not a finished"):
        observation_from_mock(mocks, row=2, out=tmp_path / "obs.h5")
    assert not (tmp_path / "obs.h5").exists()


def test_default_row_is_the_first_usable_one(tmp_path: Path) -> None:
    done = np.array([False, True, True, True, True])
    mocks = write_dataset(tmp_path / "mocks.h5", n=5, n_real=3, done=done)
    _, truth = observation_from_mock(mocks, row=None, out=tmp_path / "obs.h5")
    with h5py.File(mocks) as f:
        np.testing.assert_allclose(list(truth.values()), f["params"][1])
