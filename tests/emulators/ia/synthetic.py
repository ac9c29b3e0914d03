"""A synthetic mock dataset in the docs/ARCHITECTURE.md 3.1 layout with a known mean and known heteroscedastic
noise.

Three parameters in the box lo = (-1, -1, -1), hi = (1, 1, 1); bins r = centres of logspace(-1, 1.2, B+1)
Mpc/h. Every realisation is ``truth + sd * N(0, 1)`` (ξ: ``truth * (1 + sd_rel * N(0, 1))``).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

NAMES = ["a", "b", "c"]
LO, HI = np.full(3, -1.0), np.full(3, 1.0)


def bins(n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    edges = np.logspace(-1, 1.2, n_bins + 1)
    return 0.5 * (edges[1:] + edges[:-1]), edges


def truth(params: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(N, 3, B): ξ, ω, η without noise."""
    a, b, c = (params[:, i : i + 1] for i in range(3))
    xi = np.exp(1.0 + 0.5 * a) * r ** -(1.6 + 0.3 * b)
    omega = 0.1 * a * np.exp(-r / (3.0 + c)) + 0.02 * b
    eta = 0.05 * (a**2 + 0.5 * b * c) * np.exp(-r / 3.0)
    return np.stack([xi, omega, eta], axis=1)


def noise_sd(params: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(N, 3, B) per-realisation standard deviation (for ξ: relative to ξ)."""
    a, b, c = (params[:, i : i + 1] for i in range(3))
    ones = np.ones_like(r)
    xi_rel = 0.06 * (1.5 + c) * (r / 2.0) ** 0.25
    omega = 0.01 * (1.2 + b) * ones
    eta = 0.005 * (1.0 + a**2) * (1.0 + r / 5.0)
    return np.stack([xi_rel, omega, eta], axis=1)


def realisations(params: np.ndarray, r: np.ndarray, n_real: int, rng: np.random.Generator) -> np.ndarray:
    """(N, 3, R, B) draws around the truth."""
    mu, sd = truth(params, r)[:, :, None], noise_sd(params, r)[:, :, None]
    eps = rng.standard_normal((len(params), 3, n_real, r.size))
    out = mu + sd * eps
    out[:, 0] = mu[:, 0] * (1.0 + sd[:, 0] * eps[:, 0])
    return out


def write_dataset(
    path: Path,
    n: int,
    n_real: int,
    n_bins: int = 8,
    seed: int = 0,
    *,
    done: np.ndarray | None = None,
    drop: tuple[str, ...] = (),
    params: np.ndarray | None = None,
    edges: np.ndarray | None = None,
) -> Path:
    """Write a dataset of ``n`` rows with ``n_real`` realisations; ``drop`` leaves named datasets out;
    ``edges`` (Mpc/h) replace the default bins."""
    rng = np.random.default_rng(seed)
    r, edges = bins(n_bins) if edges is None else (0.5 * (edges[1:] + edges[:-1]), edges)
    if params is None:
        params = rng.uniform(LO, HI, size=(n, 3))
    cube = realisations(params, r, n_real, rng)
    with h5py.File(path, "w") as h5:
        ds = h5.create_dataset("params", data=params)
        ds.attrs["param_names"] = NAMES
        ds.attrs["prior_lo"], ds.attrs["prior_hi"] = LO, HI
        h5["r"], h5["r_edges"] = r, edges
        for s, name in enumerate(("xi", "omega", "eta")):
            if name not in drop:
                h5[name] = cube[:, s]
        h5["n_gal"] = np.full((n, n_real), 1000, dtype=np.int64)
        h5["done"] = np.ones(n, bool) if done is None else done
        h5.attrs["realisations"] = n_real
        h5.attrs["seed"] = seed
    return path
