"""An observation file (contract 3.3) made from one row of a mock dataset (contract 3.1), at known parameters.

The data vector is the mean of the row's R realisations. Its covariance is, by default, diagonal: each bin's
scatter between realisations squared over R (the variance of that mean). With few realisations that
covariance is noisy (R − 1 degrees of freedom per bin) and lacks the bins' correlations, so fits of such a
file are tighter than they should be. Given an emulator, the covariance is instead its noise model at the
row's true parameters (:func:`noise_model_covariance`): the aleatoric variance of the mean of R
realisations, joined by the noise correlation between bins, as injection–recovery
(:mod:`inference.ia.validation`) uses it. The true parameters are written into the file's `sample`
attribute, so an injection and its fit can be compared.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from common.errors import InputError
from emulators.ia.data import STATISTICS, read_mocks
from emulators.ia.interface import Emulator
from inference.ia.emulator_jax import JaxEmulator
from inference.ia.held_out import check_emulator_matches
from inference.ia.observations import Observation, write_observation


def noise_model_covariance(emulator: Emulator, theta: np.ndarray, n_real: int) -> np.ndarray:
    """Covariance (S·B, S·B) of the mean of ``n_real`` simulator realisations at ``theta`` (P,), physical
    units, statistic-major in the emulator's order: ``σ C σ`` with σ the emulator's aleatoric sd for the
    mean of ``n_real`` (a :class:`JaxEmulator` is asked for it; any other emulator's aleatoric variance is
    taken as that of one realisation), and C its noise correlation (identity without one)."""
    if isinstance(emulator, JaxEmulator):
        emulator, n_real = replace(emulator, n_realisations=n_real), 1
    aleatoric = np.asarray(emulator.predict(np.asarray(theta, np.float32)).aleatoric, float).ravel()
    sd = np.sqrt(aleatoric / n_real)
    corr = getattr(emulator, "noise_correlation", None)
    corr = np.eye(sd.size) if corr is None else np.asarray(corr, float)
    smallest = float(np.linalg.eigvalsh(corr)[0])
    if not smallest > 0:
        raise InputError(f"{getattr(emulator, 'name', 'emulator')}: noise correlation: smallest eigenvalue "
                         f"{smallest:.2g}; expected a positive-definite correlation to serve as an "
                         "observation's covariance (estimated from too few realisations? without a noise "
                         "model the realisations' scatter is used)")
    return sd[:, None] * corr * sd[None, :]


def observation_from_mock(
    mocks: str | Path, row: int | None, out: str | Path, noise: Emulator | None = None
) -> tuple[Observation, dict[str, float]]:
    """Write row `row` (default: the first usable row) of `mocks` as an observation to `out`; return it and
    the row's true parameters. ``noise``: an emulator of the same parameters and bins whose noise model
    gives the covariance (:func:`noise_model_covariance`); without it, the realisations' scatter."""
    data = read_mocks(mocks, drop_nan=True)
    row = int(data.row_index[0]) if row is None else row
    matches = np.flatnonzero(data.row_index == row)
    if matches.size == 0:
        raise InputError(f"{mocks}: /done: row {row} is not a finished, finite row of this dataset")
    index = int(matches[0])
    if noise is None:
        if data.n_real < 2:
            raise InputError(f"{mocks}: /xi: {data.n_real} realisation per row; its scatter needs at least 2 "
                             "(or give a noise model)")
        cov = np.diag(np.concatenate([data.std[index, k] ** 2 / data.n_real for k in range(len(STATISTICS))]))
        covariance = f"scatter of its {data.n_real} realisations"
    else:
        name = getattr(noise, "name", "emulator")
        check_emulator_matches(mocks, tuple(data.param_names), data.r, data.r_edges, noise)
        if tuple(noise.statistics) != tuple(STATISTICS):
            raise InputError(f"{name}: statistics {', '.join(noise.statistics)}; expected "
                             f"{', '.join(STATISTICS)} for a covariance of every statistic")
        cov = noise_model_covariance(noise, data.params[index], data.n_real)
        covariance = f"noise model of {name} at the true parameters"
    values = {stat: data.mean[index, k] for k, stat in enumerate(STATISTICS)}
    truth = {name: float(value) for name, value in zip(data.param_names, data.params[index], strict=True)}
    observation = Observation(
        r=data.r,
        values=values,
        cov=cov,
        r_edges=data.r_edges,
        attrs={
            "source": f"mock dataset {Path(mocks).name}, row {row}, mean of {data.n_real} realisations; "
                      f"covariance: {covariance}",
            "sample": "true parameters: " + ", ".join(f"{k}={v:.6g}" for k, v in truth.items()),
        },
        name=str(out),
    )
    write_observation(observation, out)
    return observation, truth
