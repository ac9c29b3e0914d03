"""Mock-building throughput: realisations per second (and per core) on a halo preset, for 1 and 2 workers.

    .venv/bin/python benchmarks/bench_mocks.py [--halos default] [--n-points 8] [--realisations 2]
        [--workers 1 2] [--seed 0]

Each realisation = one ``populate`` of the HOD+IA model plus ξ, ω, η on the default 20 bins. Every worker
count builds the same design (same seed) into a fresh file, so the runs do the same work; loading the halo
catalog is not timed, building each worker's model is. Prints one JSON line per worker count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from catalogs.halos.sources import catalog_metadata, load_halo_catalog
from catalogs.mocks.builder import build_mock_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halos", default="default")
    parser.add_argument("--n-points", type=int, default=8)
    parser.add_argument("--realisations", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    halocat = load_halo_catalog(args.halos, seed=args.seed, quiet=True)
    meta = catalog_metadata(halocat)
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "mocks.h5"
            start = time.perf_counter()
            build_mock_dataset(
                halocat,
                out,
                n_points=args.n_points,
                realisations=args.realisations,
                seed=args.seed,
                workers=workers,
                quiet=True,
            )
            seconds = time.perf_counter() - start
            with h5py.File(out) as f:
                n_gal = f["n_gal"][:]
        total = args.n_points * args.realisations
        print(
            json.dumps(
                {
                    "benchmark": "mocks",
                    "halos": args.halos,
                    "n_halos": len(halocat.halo_table),
                    "Lbox": meta["Lbox"],
                    "workers": workers,
                    "cpus": os.cpu_count(),
                    "n_points": args.n_points,
                    "realisations": total,
                    "seconds": round(seconds, 3),
                    "realisations_per_s": round(total / seconds, 4),
                    "realisations_per_s_per_core": round(total / seconds / workers, 4),
                    "median_n_gal": int(np.median(n_gal)),
                    "max_n_gal": int(n_gal.max()),
                    "python": platform.python_version(),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
