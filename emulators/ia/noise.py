"""The correlation of one simulator realisation's noise across bins and statistics.

The emulator predicts a variance per bin (the aleatoric part, docs/ARCHITECTURE.md 4.3); the noise of a mock's
ξ(r) is strongly correlated between neighbouring r bins (the same galaxy pairs enter several bins), and a
likelihood that treats the bins as independent is overconfident. The correlation is estimated here from the
training rows' realisations, pooled over rows: each realisation's deviation from its row mean is divided by
the emulator's aleatoric standard deviation at that row, and the pooled covariance of these standardised
deviations is normalised to unit diagonal. The likelihood then uses ``Σ_aleatoric = diag(σ) C diag(σ)`` with
the emulator's σ(θ) (:mod:`inference.ia.likelihood`).

Usage::

    corr = noise_correlation(realisations, aleatoric_var)     # (N, R, S, B), (N, S, B) -> (S·B, S·B)
    block = emulator_noise(emulator, "mocks.h5", rows)         # the artifact's "noise" entry
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from emulators.ia.data import STATISTICS
from emulators.ia.emulator import TorchEmulator


def noise_correlation(realisations: np.ndarray, aleatoric_var: np.ndarray) -> tuple[np.ndarray, int]:
    """Pooled correlation (S·B, S·B) of standardised within-row deviations, and the rows it used.

    realisations: (N, R, S, B) physical units, R >= 2; aleatoric_var: (N, S, B) variance of ONE
    realisation at each row. Rows with a non-finite entry are skipped. The order is statistic-major
    (all bins of the first statistic, then the next).
    """
    n, r = realisations.shape[:2]
    x = realisations.reshape(n, r, -1)
    sd = np.sqrt(aleatoric_var.reshape(n, -1))
    ok = np.isfinite(x).all(axis=(1, 2)) & np.isfinite(sd).all(axis=1) & (sd > 0).all(axis=1)
    if ok.sum() < 2 or r < 2:
        raise ValueError("noise correlation: needs at least 2 finite rows of at least 2 realisations")
    z = (x[ok] - x[ok].mean(axis=1, keepdims=True)) / sd[ok][:, None, :]
    cov = np.einsum("nri,nrj->ij", z, z) / (ok.sum() * (r - 1))
    scale = np.sqrt(np.diag(cov))
    corr = cov / np.outer(scale, scale)
    np.fill_diagonal(corr, 1.0)
    return corr, int(ok.sum())


def read_realisations(mocks: str | os.PathLike[str], rows: np.ndarray) -> np.ndarray:
    """Every realisation of ``rows`` (sorted) of a mock file: (N, R, S, B) in STATISTICS order."""
    with h5py.File(mocks, "r") as f:
        return np.stack([f[s][()][rows] for s in STATISTICS], axis=2).astype(float)


def emulator_noise(emulator: TorchEmulator, mocks: str | os.PathLike[str], rows: np.ndarray) -> dict:
    """The artifact's ``noise`` entry: the correlation estimated on ``rows`` of the mock file ``mocks``
    with the emulator's single-realisation aleatoric variance (4-decimal JSON lists)."""
    rows = np.sort(np.asarray(rows, dtype=int))
    cube = read_realisations(mocks, rows)
    with h5py.File(mocks, "r") as f:
        params = f["params"][()][rows].astype(float)
    aleatoric = emulator.predict(params, n_realisations=1).aleatoric
    corr, used = noise_correlation(cube, aleatoric)
    return {
        "correlation": np.round(corr, 4).tolist(),
        "order": "statistics x r bins, statistic-major",
        "rows": used,
        "realisations": int(cube.shape[1]),
        "estimator": "pooled covariance of within-row deviations / aleatoric sd, normalised to unit diagonal",
    }
