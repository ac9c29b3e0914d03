"""An observation file (contract 3.3) made from one row of a mock dataset (contract 3.1), at known parameters.

The data vector is the mean of the row's R realisations; the covariance is diagonal, each bin's scatter
between realisations squared over R (the variance of that mean). The true parameters are written into the
file's `sample` attribute, so an injection and its fit can be compared. With few realisations that
covariance is noisy (R − 1 degrees of freedom per bin) and lacks the bins' correlations, so fits of such a
file are tighter than they should be; injection–recovery (:mod:`inference.ia.validation`) uses the
emulator's noise model instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.errors import InputError
from emulators.ia.data import STATISTICS, read_mocks
from inference.ia.observations import Observation, write_observation


def observation_from_mock(
    mocks: str | Path, row: int | None, out: str | Path
) -> tuple[Observation, dict[str, float]]:
    """Write row `row` (default: the first usable row) of `mocks` as an observation to `out`; return it and
    the row's true parameters."""
    data = read_mocks(mocks, drop_nan=True)
    row = int(data.row_index[0]) if row is None else row
    matches = np.flatnonzero(data.row_index == row)
    if matches.size == 0:
        raise InputError(f"{mocks}: /done: row {row} is not a finished, finite row of this dataset")
    if data.n_real < 2:
        raise InputError(f"{mocks}: /xi: {data.n_real} realisation per row; the covariance needs at least 2")
    index = int(matches[0])
    values = {stat: data.mean[index, k] for k, stat in enumerate(STATISTICS)}
    variance = np.concatenate([data.std[index, k] ** 2 / data.n_real for k in range(len(STATISTICS))])
    truth = {name: float(value) for name, value in zip(data.param_names, data.params[index], strict=True)}
    observation = Observation(
        r=data.r,
        values=values,
        cov=np.diag(variance),
        r_edges=data.r_edges,
        attrs={
            "source": f"mock dataset {Path(mocks).name}, row {row}, mean of {data.n_real} realisations",
            "sample": "true parameters: " + ", ".join(f"{k}={v:.6g}" for k, v in truth.items()),
        },
        name=str(out),
    )
    write_observation(observation, out)
    return observation, truth
