"""Mock realisations on two simulated worlds side by side: cost per realisation, empty-bin failures, and what
a 200-point × 4-realisation design costs on each.

    .venv/bin/python benchmarks/bench_world.py --halos default data/world/wide.h5 --satellites triaxial

For each world (an embedded preset, read from the cache or built, or a halo file) one realisation is drawn
at the TNG300 sample-1 parameters and at `--points` points of a Latin hypercube over the default prior (the
design a mock dataset draws), each timed in two parts: populate (halotools' HOD + IA) and measure (ξ, ω, η in
one pass) on the TNG bins, logspace(-1, 1.5, 15) Mpc/h, cut at Lbox/4. Prints one JSON line per world
(seconds per realisation, galaxies, the fraction of realisations with an empty bin, core-hours for 200 × 4)
and a last line with the ratios of each world to the first. The worlds' build time and memory:
benchmarks/bench_halos.py --presets default wide.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from world_vs_anchors import SAMPLE_1, world_model

from catalogs.mocks.correlations import galaxy_arrays, measure
from catalogs.mocks.design import PriorBox, latin_hypercube

DESIGN_REALISATIONS = 200 * 4


def time_world(halos: str, satellites: str, n_points: int, seed: int) -> dict:
    """Populate and measure one realisation per point on world `halos`; the timings and failure count."""
    model, edges = world_model(halos, satellites)
    box = PriorBox.from_mapping({})
    points = [SAMPLE_1, *(dict(zip(box.names, p, strict=True)) for p in latin_hypercube(box, n_points, seed))]
    model.populate(SAMPLE_1, seed)  # the first populate also builds halotools' mock: not timed
    populate_s, measure_s, n_gal, failed = [], [], [], 0
    for k, params in enumerate(points):
        start = time.perf_counter()
        pos, axes = galaxy_arrays(model.populate(params, seed + k))
        populate_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        stats = measure(pos, axes, edges, model.Lbox) if len(pos) > 1 else None
        measure_s.append(time.perf_counter() - start)
        n_gal.append(len(pos))
        failed += stats is None or not all(np.all(np.isfinite(v)) for v in stats.values())
    per_realisation = float(np.mean(populate_s[1:]) + np.mean(measure_s[1:]))
    return {"halos": halos, "satellites": satellites, "Lbox": model.Lbox, "bins": len(edges) - 1,
            "r_max": float(edges[-1]), "sample_1": {"n_gal": n_gal[0], "populate_s": round(populate_s[0], 3),
                                                    "measure_s": round(measure_s[0], 3)},
            "design_points": n_points, "design_n_gal_mean": float(np.mean(n_gal[1:])),
            "design_n_gal_max": int(np.max(n_gal[1:])),
            "populate_s_mean": round(float(np.mean(populate_s[1:])), 3),
            "measure_s_mean": round(float(np.mean(measure_s[1:])), 3),
            "measure_s_max": round(float(np.max(measure_s[1:])), 3),
            "empty_bin_fraction": round(failed / len(points), 3),
            "design_200x4_core_hours": round(DESIGN_REALISATIONS * per_realisation / 3600, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halos", nargs="+", default=["default", "wide"], help="presets or halo files")
    parser.add_argument("--satellites", default="triaxial", help="nfw | triaxial | subhalo")
    parser.add_argument("--points", type=int, default=16, help="design points per world")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = [time_world(halos, args.satellites, args.points, args.seed) for halos in args.halos]
    for row in rows:
        print(json.dumps(row), flush=True)
    first = rows[0]
    keys = ("populate_s_mean", "measure_s_mean", "design_200x4_core_hours", "design_n_gal_mean")
    print(json.dumps({"ratios_to": first["halos"], **{
        row["halos"]: {key: round(row[key] / first[key], 2) for key in keys} for row in rows[1:]}}))


if __name__ == "__main__":
    main()
