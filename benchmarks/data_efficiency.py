"""Data-efficiency study: each tagger trained on N jets (e.g. 1k, 10k, 100k), evaluated on one test set.

    .venv/bin/python benchmarks/data_efficiency.py --train top.root qcd.root \
        --val val_top.root val_qcd.root --test test_top.root test_qcd.root \
        --sizes 1000 10000 100000 --out study/ [--epochs 30] [--device auto]

N jets are taken from the training files in proportion to their sizes (the first entries of each). Prints
one JSON line per (model, N): parameters, AUC and 1/εB at εS = 0.3 and 0.5 with bootstrap std, training
time and throughput, inference jets/s. Writes study/results.json, study/table.md and study/efficiency.png;
a (model, N) whose report already exists is read back, not retrained, so a killed study resumes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common.atomic import atomic_file
from emulators.taggers.registry import MODELS
from emulators.taggers.report import evaluate_tagger
from emulators.taggers.training import train_tagger


def run_point(model: str, size: int, train: list[Path], val: list[Path], test: list[Path], out: Path, *,
              epochs: int, batch_size: int, lr: float, device: str, seed: int, quiet: bool,
              overrides: dict | None = None, max_val_jets: int | None = None) -> dict:
    """Train (unless done) and evaluate one (model, size) point; returns its result row."""
    tagger, report_dir = out / f"{model}_{size}", out / f"{model}_{size}_report"
    if not (report_dir / "metrics.json").is_file():
        train_tagger(train, val, tagger, model=model, epochs=epochs, batch_size=batch_size, lr=lr,
                     device=device, seed=seed, max_jets=size, max_val_jets=max_val_jets, overrides=overrides,
                     quiet=quiet)
        evaluate_tagger(tagger, test, report_dir, device=device, seed=seed)
    meta = json.loads((tagger / "tagger.json").read_text())
    report = json.loads((report_dir / "metrics.json").read_text())
    m, t = report["metrics"], meta["training"]
    return {"model": model, "n_train": sum(t["n_train"].values()), "params": meta["params"],
            **{f"{k}": m[k]["value"] for k in ("auc", "rejection_30", "rejection_50", "accuracy")},
            **{f"{k}_std": m[k]["std"] for k in ("auc", "rejection_30", "rejection_50")},
            "epochs_run": len(t["history"]["val_loss"]), "best_epoch": t["history"]["best_epoch"],
            "train_seconds": t["seconds"], "train_jets_per_s": t["train_jets_per_s"],
            "inference_jets_per_s": report["inference"]["jets_per_s"], "device": t["device"]}


def write_outputs(rows: list[dict], out: Path) -> None:
    """results.json, a markdown table and a plot of AUC and 1/εB(εS = 0.3) against the training size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with atomic_file(out / "results.json") as tmp:
        tmp.write_text(json.dumps(rows, indent=2) + "\n")
    cols = ["model", "N train", "params", "AUC", "1/εB @ εS=0.3", "1/εB @ εS=0.5", "train s", "train jets/s",
            "infer jets/s"]
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for r in rows:
        lines.append(f"| {r['model']} | {r['n_train']} | {r['params']} | {r['auc']:.4f} ± {r['auc_std']:.4f} "
                     f"| "
                     f"{r['rejection_30']:.1f} ± {r['rejection_30_std']:.1f} | "
                     f"{r['rejection_50']:.1f} ± {r['rejection_50_std']:.1f} | {r['train_seconds']:.0f} | "
                     f"{r['train_jets_per_s']:.0f} | {r['inference_jets_per_s']:.0f} |")
    with atomic_file(out / "table.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for model in dict.fromkeys(r["model"] for r in rows):
        sel = sorted((r for r in rows if r["model"] == model), key=lambda r: r["n_train"])
        n = [r["n_train"] for r in sel]
        axes[0].errorbar(n, [r["auc"] for r in sel], [r["auc_std"] for r in sel], marker="o", label=model)
        rej, err = [r["rejection_30"] for r in sel], [r["rejection_30_std"] for r in sel]
        axes[1].errorbar(n, rej, err, marker="o", label=model)
    for ax, label in zip(axes, ["ROC AUC", "1/εB at εS = 0.3"], strict=True):
        ax.set(xscale="log", xlabel="training jets", ylabel=label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    with atomic_file(out / "efficiency.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", nargs="+", type=Path, required=True)
    parser.add_argument("--val", nargs="+", type=Path, required=True)
    parser.add_argument("--test", nargs="+", type=Path, required=True)
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10_000, 100_000])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", type=Path, default=Path("study"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-val-jets", type=int, default=None, help="validation jets per point")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--overrides", type=json.loads, default={},
                        help='model configs, e.g. \'{"lorentznet": {"hidden": 32, "layers": 4}}\'')
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        for model in args.models:
            row = run_point(model, size, args.train, args.val, args.test, args.out, epochs=args.epochs,
                            batch_size=args.batch_size, lr=args.lr, device=args.device, seed=args.seed,
                            quiet=args.quiet, overrides=args.overrides.get(model),
                            max_val_jets=args.max_val_jets)
            print(json.dumps(row), flush=True)
            rows.append(row)
            write_outputs(rows, args.out)


if __name__ == "__main__":
    main()
