"""An observation from a mock row: mean of the realisations, variance of that mean, the true parameters."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from common.errors import InputError
from emulators.ia.data import read_mocks
from emulators.ia.interface import Prediction
from inference.ia.mock_observation import noise_model_covariance, observation_from_mock
from inference.ia.observations import read_observation
from tests.emulators.ia.synthetic import NAMES, bins, noise_sd, truth, write_dataset


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


class SyntheticNoiseModel:
    """An emulator of the synthetic dataset's own mean and noise (tests.emulators.ia.synthetic), the aleatoric
    variance that of ONE realisation, with an optional noise correlation."""

    name = "synthetic noise model"
    param_names = tuple(NAMES)
    statistics = ("xi", "omega", "eta")

    def __init__(self, n_bins: int, corr: np.ndarray | None = None) -> None:
        self.r, self.r_edges = bins(n_bins)
        self.noise_correlation = corr

    def predict(self, theta: np.ndarray) -> Prediction:
        theta = np.asarray(theta, float)[None]
        mean = truth(theta, self.r)[0]
        sd = noise_sd(theta, self.r)[0]
        sd[0] *= mean[0]  # ξ's sd is relative
        return Prediction(mean, sd**2, np.zeros_like(sd))


def test_noise_model_covariance_is_that_of_the_realisation_mean(tmp_path: Path) -> None:
    """Rows drawn from the synthetic noise: χ² of each row's mean against its truth, with the noise-model
    covariance of the mean of its 4 realisations, averages K; with the realisations' own scatter (3 degrees of
    freedom per bin) it averages about 3K (a t₃ variable's variance is 3)."""
    n_rows, n_real, n_bins = 400, 4, 8
    mocks = write_dataset(tmp_path / "mocks.h5", n=n_rows, n_real=n_real, n_bins=n_bins, seed=11)
    model = SyntheticNoiseModel(n_bins)
    data = read_mocks(mocks)
    k = 3 * n_bins
    chi2_model, chi2_scatter = [], []
    for i in range(n_rows):
        residual = (data.mean[i] - truth(data.params[i : i + 1], data.r)[0]).ravel()
        cov = noise_model_covariance(model, data.params[i], n_real)
        chi2_model.append(residual @ np.linalg.solve(cov, residual))
        chi2_scatter.append(np.sum(residual**2 / (data.std[i] ** 2 / n_real).ravel()))
    assert abs(np.mean(chi2_model) - k) < 4 * np.sqrt(2 * k / n_rows)
    assert np.mean(chi2_scatter) > 2 * k


def test_noise_model_observation_carries_the_correlation_and_checks_bins(tmp_path: Path) -> None:
    n_bins = 8
    mocks = write_dataset(tmp_path / "mocks.h5", n=5, n_real=4, n_bins=n_bins, seed=2)
    lag = np.abs(np.subtract.outer(np.arange(3 * n_bins), np.arange(3 * n_bins)))
    model = SyntheticNoiseModel(n_bins, corr=0.6**lag)
    _, params = observation_from_mock(mocks, row=1, out=tmp_path / "obs.h5", noise=model)
    cov = read_observation(tmp_path / "obs.h5").cov
    sd = np.sqrt(model.predict(np.array(list(params.values()))).aleatoric.ravel() / 4)
    np.testing.assert_allclose(np.diag(cov), sd**2, rtol=1e-6)
    np.testing.assert_allclose(cov[0, 2], 0.36 * sd[0] * sd[2], rtol=1e-6)
    other = SyntheticNoiseModel(n_bins + 1)
    with pytest.raises(InputError, match="bins differ from the emulator's"):
        observation_from_mock(mocks, row=1, out=tmp_path / "other.h5", noise=other)
    assert not (tmp_path / "other.h5").exists()


def test_a_singular_noise_correlation_is_refused_and_nothing_written(tmp_path: Path) -> None:
    """A correlation estimated from fewer deviations than bins (here rank 1) cannot be an observation's
    covariance."""
    mocks = write_dataset(tmp_path / "mocks.h5", n=5, n_real=4, n_bins=8, seed=2)
    model = SyntheticNoiseModel(8, corr=np.ones((24, 24)))
    with pytest.raises(InputError, match="noise correlation: smallest eigenvalue"):
        observation_from_mock(mocks, row=1, out=tmp_path / "obs.h5", noise=model)
    assert not (tmp_path / "obs.h5").exists()
