"""LorentzNet with the discovered metric against the exact Minkowski metric, same seeds, jets and test file.

    .venv/bin/python benchmarks/metric_comparison.py --metric sym/symmetry.json --train top.root qcd.root \
        --val top_val.root --val qcd_val.root --test top_test.root qcd_test.root --size 1000 --seeds 0 1 \
        --out metric_study/ [--epochs 15] [--overrides '{"hidden": 32, "layers": 4}']

Each (metric, seed) is one point of `benchmarks/data_efficiency.py` (train on the first `size` jets, evaluate
with bootstrap errors). Prints one JSON line per point and, last, the mean over seeds per metric.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from data_efficiency import run_point

from emulators.taggers.symmetry_analysis import load_metric

KEYS = ("auc", "rejection_30", "rejection_50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metric", type=Path, required=True, help="symmetry.json (toptag discover-symmetry)")
    parser.add_argument("--train", nargs="+", type=Path, required=True)
    parser.add_argument("--val", action="append", type=Path, required=True)
    parser.add_argument("--test", nargs="+", type=Path, required=True)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--max-val-jets", type=int, default=500, help="validation jets per training")
    parser.add_argument("--overrides", type=json.loads, default={"hidden": 32, "layers": 4})
    parser.add_argument("--out", type=Path, default=Path("metric_study"))
    args = parser.parse_args()
    metrics = {"minkowski": None, "discovered": load_metric(args.metric)}
    rows = {name: [] for name in metrics}
    for seed in args.seeds:
        for name, metric in metrics.items():
            overrides = {**args.overrides, **({"metric": metric} if metric is not None else {})}
            out = args.out / f"{name}_s{seed}"
            row = run_point("lorentznet", args.size, args.train, args.val, args.test, out, epochs=args.epochs,
                            batch_size=64, lr=1e-3, device="cpu", seed=seed, quiet=True, overrides=overrides,
                            max_val_jets=args.max_val_jets)
            rows[name].append(row)
            print(json.dumps({"metric": name, "seed": seed, **row}), flush=True)
    for name, got in rows.items():
        print(json.dumps({"metric": name, "seeds": args.seeds,
                          **{k: float(np.mean([r[k] for r in got])) for k in KEYS},
                          **{f"{k}_bootstrap_std": float(np.mean([r[f"{k}_std"] for r in got]))
                             for k in KEYS},
                          **{f"{k}_seed_std": float(np.std([r[k] for r in got], ddof=1)) for k in KEYS}}))


if __name__ == "__main__":
    main()
