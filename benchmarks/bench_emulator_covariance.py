"""NUTS cost and mixing of the two emulator covariances on the same held-out injections.

    python benchmarks/bench_emulator_covariance.py EMULATOR_DIR HELD_OUT.h5 [--n-injections 3] [--seed 0]

Fits the injections that ``iaemu validate --n-injections K --seed S`` would fit, once with the emulator
covariance following the parameters (``varying``) and once held at each injection's mode (``fixed``), with the
same chains, warm-up and draws, one after the other in this process. Prints one JSON line per form (wall
seconds without compilation, compile seconds, per-injection maximum R-hat over the parameters, divergences,
the 68% / 95% interval coverage of :func:`inference.ia.validation.report.coverage_report` averaged over the
parameters) and one line with the ratios fixed / varying.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np

from emulators.ia.interface import Emulator
from inference.ia.emulator_jax import load_jax_emulator
from inference.ia.validation.report import coverage_report
from inference.ia.validation.run import HeldOut, ValidationSettings, read_held_out, run_injections


def measure(emulator: Emulator, held: HeldOut, settings: ValidationSettings) -> dict:
    """One form's run of :func:`inference.ia.validation.run.run_injections`, summarised."""
    results = run_injections(emulator, held, settings, quiet=True)
    per_parameter = coverage_report(results)["parameters"].values()
    return {
        "emulator_covariance": settings.emulator_covariance,
        "n_injections": len(results.truth),
        "chains": settings.chains,
        "warmup": settings.warmup,
        "samples": settings.samples,
        "wall_s": round(results.wall_time_s, 1),
        "compile_s": round(results.compile_time_s, 1),
        "max_r_hat": np.round(np.nanmax(results.r_hat, axis=1), 3).tolist(),
        "divergences": results.divergences.tolist(),
        "coverage_68": round(float(np.mean([row["coverage_68"] for row in per_parameter])), 3),
        "coverage_95": round(float(np.mean([row["coverage_95"] for row in per_parameter])), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("emulator")
    parser.add_argument("held_out")
    parser.add_argument("--n-injections", type=int, default=3)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=250)
    parser.add_argument("--samples", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    base = ValidationSettings(
        n_injections=args.n_injections, chains=args.chains, warmup=args.warmup, samples=args.samples,
        batch=args.n_injections, seed=args.seed, rhat_target=None,  # a fixed budget for both forms
    )  # fmt: skip
    emulator = load_jax_emulator(args.emulator, n_realisations=1)
    held = read_held_out(args.held_out, emulator)
    lines = {}
    for form in ("varying", "fixed"):
        settings = replace(base, emulator_covariance=form)
        lines[form] = measure(emulator, held, settings)
        print(json.dumps(lines[form]), flush=True)
    varying, fixed = lines["varying"], lines["fixed"]
    print(
        json.dumps(
            {
                "ratio": "fixed / varying",
                "wall": round(fixed["wall_s"] / varying["wall_s"], 2),
                "divergences": [sum(fixed["divergences"]), sum(varying["divergences"])],
                "median_max_r_hat": [
                    round(float(np.median(fixed["max_r_hat"])), 3),
                    round(float(np.median(varying["max_r_hat"])), 3),
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
