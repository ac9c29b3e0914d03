"""ξ, ω, η of one mock: halotools' three estimators against the one-pass ``measure``, side by side.

    .venv/bin/python benchmarks/bench_correlations.py [--n 32700] [--lbox 128] [--repeats 3] [--seed 0]

N galaxies in a periodic box of side Lbox (Mpc/h): half uniform, half in Gaussian blobs (σ = 0.5 Mpc/h) with
axes about radial to their blob's centre; bins ``logspace(-1, 1.5, 15)`` Mpc/h. Each timing is the best of
`--repeats` (with its CPU time, to show one core at work); the peak is the largest memory numpy holds during
one ``measure`` (tracemalloc). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc

import numpy as np
from world_vs_anchors import TNG_EDGES

from catalogs.mocks.correlations import STATISTICS, measure


def galaxies(n: int, Lbox: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (n, 3) in Mpc/h and axes (n, 3): half uniform, half in blobs of 25 around uniform centres."""
    rng = np.random.default_rng(seed)
    n_blob = n // 2
    centres = rng.uniform(0, Lbox, (max(1, n_blob // 25), 3))
    which = rng.integers(0, len(centres), n_blob)
    offset = rng.normal(0, 0.5, (n_blob, 3))
    pos = np.concatenate([rng.uniform(0, Lbox, (n - n_blob, 3)), (centres[which] + offset) % Lbox])
    axes = np.concatenate([rng.normal(size=(n - n_blob, 3)), offset + rng.normal(0, 0.3, (n_blob, 3))])
    return pos, axes


def halotools_measure(pos: np.ndarray, axes: np.ndarray, r_edges: np.ndarray, Lbox: float) -> dict:
    """The three halotools calls that ``measure`` replaces (one thread each)."""
    from halotools.mock_observables import ed_3d, ee_3d, tpcf

    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "xi": tpcf(pos, r_edges, period=Lbox, num_threads=1),
            "omega": ed_3d(pos, axes, pos, r_edges, period=Lbox, num_threads=1),
            "eta": ee_3d(pos, axes, pos, axes, r_edges, period=Lbox, num_threads=1),
        }


def best_time(fn, repeats: int, *args) -> tuple[float, float, dict]:
    """The shortest wall time (s) of `repeats` calls, that call's CPU time (s), and the last result."""
    times = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn(*args)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return *min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32_700)
    parser.add_argument("--lbox", type=float, default=128.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    pos, axes = galaxies(args.n, args.lbox, args.seed)
    r_edges = TNG_EDGES
    t_ref, cpu_ref, ref = best_time(halotools_measure, args.repeats, pos, axes, r_edges, args.lbox)
    t_new, cpu_new, new = best_time(measure, args.repeats, pos, axes, r_edges, args.lbox)
    tracemalloc.start()
    measure(pos, axes, r_edges, args.lbox)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "benchmark": "correlations",
                "n": args.n,
                "Lbox": args.lbox,
                "r_max": round(float(r_edges[-1]), 3),
                "cpus": os.cpu_count(),
                "repeats": args.repeats,
                "halotools_s": round(t_ref, 3),
                "halotools_cpu_s": round(cpu_ref, 3),
                "measure_s": round(t_new, 3),
                "measure_cpu_s": round(cpu_new, 3),
                "speedup": round(t_ref / t_new, 2),
                "max_abs_diff": {s: float(np.nanmax(np.abs(new[s] - ref[s]))) for s in STATISTICS},
                "same_nan": all(np.array_equal(np.isnan(new[s]), np.isnan(ref[s])) for s in STATISTICS),
                "measure_peak_mb": round(peak / 2**20, 1),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
