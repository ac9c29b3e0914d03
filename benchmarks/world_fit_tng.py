"""The simulated world fitted to TNG300 sample 1 directly, without an emulator: is μ right before any
network is trained on the world?

    .venv/bin/python benchmarks/world_fit_tng.py --halos data/world/wide.h5 --elongation 2 \
        [--tables examples/tng300] [--realisations 16]

With the HOD fixed at the sample-1 values (as IAEmu and Van Alfen et al. fit it), the world's mean ω on the
TNG bins (logspace(-1, 1.5, 15) Mpc/h, up to Lbox/4) is measured on a 5 × 4 grid of (μ_cen, μ_sat), the same
seeds at every grid point, and fitted bin by bin with a quadratic surface. The posterior of (μ_cen, μ_sat)
on a fine grid (flat prior, Gaussian likelihood, σ² = the TNG jackknife error² + the world mean's error²)
gives the mean ± sd and χ² at the best fit with its p-value, printed as one JSON line beside the published
fits (0.755, 0.279) and (0.81, 0.35).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import chi2
from world_vs_anchors import SAMPLE_1, mean_and_error, mock_statistics, world_model

from inference.ia.observation_import import read_table

MU_CEN, MU_SAT = np.array([0.55, 0.65, 0.75, 0.85, 0.95]), np.array([0.05, 0.2, 0.35, 0.5])
PUBLISHED = {"Van Alfen et al. 2024": [0.755, 0.279], "IAEmu, Pandya et al. 2025": [0.81, 0.35]}


def quadratic_terms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(…, 6) terms 1, a, b, a², b², ab of a quadratic surface in (μ_cen, μ_sat)."""
    return np.stack([np.ones_like(a), a, b, a * a, b * b, a * b], axis=-1)


def grid_means(halos: str, elongation: float, realisations: int, seed: int) -> tuple[np.ndarray, ...]:
    """(points, 2) grid, (points, B) mean ω and its error on the TNG bins up to Lbox/4."""
    model, edges = world_model(halos, "triaxial", elongation)
    grid = np.array([(a, b) for a in MU_CEN for b in MU_SAT])
    seeds = range(seed, seed + realisations)
    pairs = [mean_and_error(mock_statistics(model, edges, {**SAMPLE_1, "mu_cen": a, "mu_sat": b}, seeds)[0]
                            ["omega"]) for a, b in grid]
    return grid, np.array([m for m, _ in pairs]), np.array([e for _, e in pairs])


def fit(grid: np.ndarray, means: np.ndarray, errors: np.ndarray, data: np.ndarray, sigma: np.ndarray) -> dict:
    """Posterior mean ± sd of (μ_cen, μ_sat) and the best fit's χ² (module docstring)."""
    coef = np.linalg.lstsq(quadratic_terms(grid[:, 0], grid[:, 1]), means, rcond=None)[0]
    a, b = np.meshgrid(np.linspace(0.4, 1.0, 241), np.linspace(-0.1, 0.7, 321), indexing="ij")
    model = quadratic_terms(a, b) @ coef
    scale = np.hypot(sigma, errors.mean(axis=0))
    chi = (((model - data) / scale) ** 2).sum(axis=-1)
    weight = np.exp(-0.5 * (chi - chi.min()))
    weight /= weight.sum()
    best = np.unravel_index(chi.argmin(), chi.shape)
    dof = data.size - 2
    out = {"bins": int(data.size), "chi2_best": float(chi.min()), "dof": dof,
           "p_value": float(chi2.sf(chi.min(), dof)), "best": [float(a[best]), float(b[best])]}
    for name, x in (("mu_cen", a), ("mu_sat", b)):
        mean = float((weight * x).sum())
        out[name] = [mean, float(np.sqrt((weight * (x - mean) ** 2).sum()))]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halos", default="wide")
    parser.add_argument("--elongation", type=float, default=2.0, help="the triaxial satellites' p")
    parser.add_argument("--tables", type=Path, default=Path("examples/tng300"))
    parser.add_argument("--realisations", type=int, default=16)
    parser.add_argument("--seed", type=int, default=100)
    args = parser.parse_args()
    grid, means, errors = grid_means(args.halos, args.elongation, args.realisations, args.seed)
    _, data, sigma = read_table(args.tables / "TNG300-1_99-sample_1_ed.dat", "omega")
    n = means.shape[1]
    print(json.dumps({"halos": args.halos, "elongation": args.elongation, "realisations": args.realisations,
                      **fit(grid, means, errors, data[:n], sigma[:n]), "published": PUBLISHED}))


if __name__ == "__main__":
    main()
