"""Jet generation throughput: accepted jets per second per core, top and QCD, 1 and 2 workers.

    .venv/bin/python benchmarks/bench_jets.py [--n 1000] [--workers 1 2] [--processes top qcd] [--mpi]
        [--chunk-jets 250] [--seed 0]

Each measurement is one `catalogs.jets.production.generate_jets` call (Pythia 8 + FastJet + selection + ROOT
output, chunks of `chunk_jets`, worker start-up included) writing `n` accepted jets to a temporary file.
Reported: `jets_per_s_per_core` = n / wall time / workers, and `jets_per_cpu_s` = n / CPU seconds summed over
the workers' chunk generation (less sensitive to other load on the machine; excludes start-up and the merge).
The target is >= 100 accepted top jets/s/core with MPI off. Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

from catalogs.jets.generation import JetConfig
from catalogs.jets.production import generate_jets


def measure(process: str, n: int, workers: int, mpi: bool, chunk_jets: int, seed: int) -> dict:
    """Generate `n` jets once and return the throughput figures."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"{process}.root"
        config = JetConfig(process, mpi=mpi)
        report = generate_jets(config, n, out, workers=workers, seed=seed, chunk_jets=chunk_jets, quiet=True)
    return {
        "benchmark": "jets",
        "process": process,
        "mpi": mpi,
        "workers": workers,
        "n_jets": n,
        "events": report.n_events,
        "jets_per_event": round(n / report.n_events, 4),
        "wall_s": round(report.wall_seconds, 2),
        "jets_per_s_per_core": round(n / report.wall_seconds / workers, 1),
        "jets_per_cpu_s": round(n / report.cpu_seconds, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--processes", nargs="+", default=["top", "qcd"])
    parser.add_argument("--mpi", action="store_true")
    parser.add_argument("--chunk-jets", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for process in args.processes:
        for workers in args.workers:
            print(
                json.dumps(measure(process, args.n, workers, args.mpi, args.chunk_jets, args.seed)),
                flush=True,
            )


if __name__ == "__main__":
    main()
