"""The simulated world against the anchors: mean ξ, ω of a world's mocks beside the halotools-on-Bolshoi-
Planck curves at the same HOD + IA parameters, bin by bin.

    .venv/bin/python benchmarks/world_vs_anchors.py --halos default --satellites nfw triaxial \
        --realisations 30 [--elongation 2]

At the TNG300 sample-1 parameters (the anchors' HOD, (μ_cen, μ_sat) = (0.755, 0.279)), every satellite phase
space asked for is populated `--realisations` times on the halo catalog; ξ and ω are measured on the anchors'
bins (logspace(-1, 1.5, 15) Mpc/h) up to Lbox/4. Prints one JSON line per phase space: the mean and its error
per bin, the ratio to the anchor, and whether each bin is within 25% of it (or within 2σ of the anchor's own
error where that is larger).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from catalogs.halos.sources import load_halo_catalog
from catalogs.mocks.correlations import galaxy_arrays, measure
from catalogs.mocks.hod import HodIAModel
from catalogs.mocks.phase_space import SatelliteProfile

SAMPLE_1 = {"mu_cen": 0.755, "mu_sat": 0.279, "logMmin": 12.54, "sigma_logM": 0.26, "logM0": 12.68,
            "logM1": 13.48, "alpha": 1.0}
TNG_EDGES = np.logspace(-1, 1.5, 15)
ANCHOR_FILES = {"xi": "TNG300-1_99-sample_1_model_xi.dat", "omega": "TNG300-1_99-sample_1_model_ed.dat"}


def read_anchor(folder: Path, stat: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(r, value, err) of one anchor curve (columns `r <stat> err`, one header line)."""
    table = np.loadtxt(folder / ANCHOR_FILES[stat], skiprows=1)
    return table[:, 0], table[:, 1], table[:, 2]


def world_model(halos: str, satellites: SatelliteProfile, elongation: float = 1.0
                ) -> tuple[HodIAModel, np.ndarray]:
    """The HOD+IA model on world `halos` (a preset or a halo file) and the TNG bin edges (Mpc/h) up to its
    Lbox/4; `elongation`: the triaxial satellites' p (catalogs.mocks.phase_space)."""
    model = HodIAModel(load_halo_catalog(halos, quiet=True), satellites=satellites, elongation=elongation)
    return model, TNG_EDGES[TNG_EDGES < model.Lbox / 4]


def mock_statistics(model: HodIAModel, edges: np.ndarray, params: dict, seeds: range
                 ) -> tuple[dict[str, np.ndarray], list[int]]:
    """ξ, ω, η of one mock per seed at `params` on `edges` (Mpc/h), stacked (R, B), and the galaxy counts."""
    runs, n_gal = [], []
    for seed in seeds:
        pos, axes = galaxy_arrays(model.populate(params, seed))
        runs.append(measure(pos, axes, edges, model.Lbox))
        n_gal.append(len(pos))
    return {stat: np.array([run[stat] for run in runs]) for stat in runs[0]}, n_gal


def mean_and_error(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean over realisations (axis 0) and its standard error."""
    return values.mean(0), values.std(0, ddof=1) / np.sqrt(len(values))


def world_means(halos: str, satellites: SatelliteProfile, realisations: int, seed: int,
                elongation: float = 1.0) -> dict:
    """Mean and standard error of ξ and ω over realisations at the sample-1 parameters (bins ≤ Lbox/4)."""
    model, edges = world_model(halos, satellites, elongation)
    runs, n_gal = mock_statistics(model, edges, SAMPLE_1, range(seed, seed + realisations))
    out = {"n_bins": len(edges) - 1, "n_gal": float(np.mean(n_gal))}
    for stat in ("xi", "omega"):
        out[stat], out[f"{stat}_err"] = mean_and_error(runs[stat])
    return out


def compare(world: dict, anchors: Path) -> dict:
    """Per bin: the world's mean ± error, the anchor, their ratio, and whether it passes (25% or 2σ)."""
    rows = {}
    for stat in ("xi", "omega"):
        r, value, err = read_anchor(anchors, stat)
        n = world["n_bins"]
        mine, mine_err = world[stat], world[f"{stat}_err"]
        ratio = mine / value[:n]
        sigma = np.hypot(err[:n], mine_err)
        ok = (np.abs(ratio - 1) <= 0.25) | (np.abs(mine - value[:n]) <= 2 * sigma)
        rows[stat] = {"r": np.round(r[:n], 3).tolist(), "world": mine.tolist(),
                      "world_err": mine_err.tolist(), "anchor": value[:n].tolist(),
                      "ratio": np.round(ratio, 3).tolist(), "within": ok.tolist()}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halos", default="default", help="an embedded preset or a halo catalog file")
    parser.add_argument("--satellites", nargs="+", default=["nfw", "triaxial"])
    parser.add_argument("--anchors", type=Path, default=Path("examples/tng300/bolshoi_model"))
    parser.add_argument("--realisations", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--elongation", type=float, default=1.0, help="the triaxial satellites' p")
    args = parser.parse_args()
    for satellites in args.satellites:
        elongation = args.elongation if satellites == "triaxial" else 1.0
        world = world_means(args.halos, satellites, args.realisations, args.seed, elongation)
        print(json.dumps({"halos": args.halos, "satellites": satellites, "elongation": elongation,
                          "realisations": args.realisations,
                          "n_gal": world["n_gal"], **compare(world, args.anchors)}), flush=True)


if __name__ == "__main__":
    main()
