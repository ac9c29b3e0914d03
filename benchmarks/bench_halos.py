"""Wall time and peak memory of building each embedded halo-catalog preset (PM N-body + FoF + properties).

    python benchmarks/bench_halos.py                      # tiny and default on CPU; default and large on CUDA
    python benchmarks/bench_halos.py --presets tiny --devices cpu --threads 1

Each measurement runs in a fresh process (so the peak resident memory is its own) and prints one JSON line.
Nothing is cached: every run builds from scratch.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(preset: str, device: str, seed: int, threads: int | None) -> dict:
    """Build `preset` on `device` in this process; return the measurement."""
    import torch

    from catalogs.halos.sources import PRESETS, build_nbody_halos

    if threads:
        torch.set_num_threads(threads)
    config = PRESETS[preset]
    start = time.perf_counter()
    columns, meta = build_nbody_halos(config, seed=seed, device=device, quiet=True)
    wall = time.perf_counter() - start
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "benchmark": "halos_build",
        "preset": preset,
        "device": device,
        "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
        "particles": config.n_side**3,
        "mesh": config.mesh_factor * config.n_side,
        "steps": config.n_steps,
        "box_mpc_h": config.box,
        "n_halos": int(len(columns["halo_id"])),
        "torch_threads": torch.get_num_threads(),
        "wall_s": round(wall, 2),
        "nbody_s": round(meta["nbody_seconds"], 2),
        "fof_and_properties_s": round(wall - meta["nbody_seconds"], 2),
        "cpu_s": round(cpu.ru_utime + cpu.ru_stime, 2),
        "peak_rss_gb": round(cpu.ru_maxrss / 1024**2, 3),
        "peak_gpu_gb": round(torch.cuda.max_memory_allocated() / 1024**3, 3) if device == "cuda" else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presets", nargs="+", default=None, help="default: tiny default (CPU), default large (CUDA)"
    )
    parser.add_argument(
        "--devices", nargs="+", default=None, help="cpu and/or cuda (default: cpu, plus cuda if present)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--worker", nargs=2, metavar=("PRESET", "DEVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(*args.worker, args.seed, args.threads)), flush=True)
        return
    import torch

    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    for device in devices:
        presets = args.presets or (["tiny", "default"] if device == "cpu" else ["default", "large"])
        for preset in presets:
            command = [sys.executable, __file__, "--worker", preset, device, "--seed", str(args.seed)]
            if args.threads:
                command += ["--threads", str(args.threads)]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode:
                print(
                    json.dumps(
                        {
                            "benchmark": "halos_build",
                            "preset": preset,
                            "device": device,
                            "error": result.stderr.strip().splitlines()[-1:],
                        }
                    ),
                    flush=True,
                )
            else:
                print(result.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
