"""Data-efficiency study: each tagger trained on N jets (e.g. 1k, 10k, 100k), evaluated on one test set.

    .venv/bin/python benchmarks/data_efficiency.py --train top.root qcd.root \
        --val val_top.root val_qcd.root --test test_top.root test_qcd.root \
        [--shift-test mpi_top.root mpi_qcd.root] --sizes 1000 10000 100000 --out study/ \
        [--epochs 1000=40 10000=25 100000=12] [--seeds 3] [--max-constituents 30] [--threads 1] \
        [--compile lgatr] \
        [--overrides '{"lorentznet": {"hidden": 32, "layers": 4}, ...}']

N jets are taken from the training files in proportion to their sizes (the first entries of each); the
smallest N is trained with `--seeds` seeds (0, 1, ...), the others with seed 0. Every model keeps each jet's
`--max-constituents` leading constituents and trains with bf16 autocast where the CPU has native bf16
(`toptag train --precision auto`). Prints one JSON line per (model, N, seed): parameters, AUC, accuracy and
1/εB at εS = 0.3 and 0.5 with bootstrap std, training time and throughput, inference jets/s, and, with
`--shift-test`, the AUC and 1/εB on that file (e.g. jets generated with multiparton interactions, a shift the
training never saw) for the models at the `--shift-size` N. Beside the taggers, the same metrics of one
untrained score, the invariant mass of each test jet's leading constituents (a tagger that learnt only the
jet mass ranks the jets alike). Writes study/results.json, study/table.md and
study/efficiency.png; a point whose report already exists is read back, not retrained, and a killed training
resumes from its last epoch, so a killed study resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from catalogs.jets.rootio import read_jets
from common.atomic import atomic_file
from emulators.taggers.metrics import tagger_metrics
from emulators.taggers.registry import MODELS
from emulators.taggers.report import evaluate_tagger
from emulators.taggers.training import train_tagger


def run_point(model: str, size: int, seed: int, files: dict[str, list[Path]], out: Path, *, epochs: int,
              batch_size: int, lr: float, device: str, max_particles: int, quiet: bool,
              overrides: dict | None = None, max_val_jets: int | None = None, shift: bool = False,
              compile_model: bool = False) -> dict:
    """Train (unless done) and evaluate one (model, size, seed) point; returns its result row."""
    name = f"{model}_{size}" + (f"_seed{seed}" if seed else "")
    tagger, report_dir = out / name, out / f"{name}_report"
    if not (report_dir / "metrics.json").is_file():
        if not (tagger / "tagger.json").is_file():
            train_tagger(files["train"], files["val"], tagger, model=model, epochs=epochs,
                         batch_size=batch_size, lr=lr, device=device, seed=seed, max_jets=size,
                         max_val_jets=max_val_jets, max_particles=max_particles, overrides=overrides,
                         compile_model=compile_model, quiet=quiet)
        evaluate_tagger(tagger, files["test"], report_dir, device=device, seed=seed)
    meta = json.loads((tagger / "tagger.json").read_text())
    report = json.loads((report_dir / "metrics.json").read_text())
    m, t = report["metrics"], meta["training"]
    row = {"model": model, "n_train": sum(t["n_train"].values()), "seed": seed, "params": meta["params"],
           "max_constituents": t["max_particles"], "precision": t.get("precision", "float32"),
           **{f"{k}": m[k]["value"] for k in ("auc", "rejection_30", "rejection_50", "accuracy")},
           **{f"{k}_std": m[k]["std"] for k in ("auc", "rejection_30", "rejection_50", "accuracy")},
           "epochs_run": len(t["history"]["val_loss"]), "best_epoch": t["history"]["best_epoch"],
           "train_seconds": t["seconds"], "train_jets_per_s": t["train_jets_per_s"],
           "inference_jets_per_s": report["inference"]["jets_per_s"], "device": t["device"]}
    if shift and all(Path(f).is_file() for f in files["shift"]):  # else left to a later (resumed) run
        shift_dir = out / f"{name}_shift"
        if not (shift_dir / "metrics.json").is_file():
            evaluate_tagger(tagger, files["shift"], shift_dir, device=device, seed=seed)
        shifted = json.loads((shift_dir / "metrics.json").read_text())["metrics"]
        row |= {f"shift_{k}": shifted[k]["value"] for k in ("auc", "rejection_30", "rejection_50")}
        row |= {f"shift_{k}_std": shifted[k]["std"] for k in ("auc", "rejection_30", "rejection_50")}
    return row


def jet_mass_reference(paths: list[Path], max_particles: int) -> dict:
    """AUC and 1/εB (value and bootstrap std; no accuracy: the score is not a probability) of the invariant
    mass (GeV) of each jet's `max_particles` leading constituents as the score, on the jets of `paths`."""
    masses, labels = [], []
    for path in paths:
        jets = read_jets(path, max_particles=max_particles)
        p = (jets.p4 * jets.mask[..., None]).sum(1, dtype=np.float64)
        masses.append(np.sqrt(np.clip(p[:, 0] ** 2 - (p[:, 1:] ** 2).sum(1), 0.0, None)))
        labels.append(jets.labels)
    metrics = tagger_metrics(np.concatenate(labels).astype(bool), np.concatenate(masses))
    return {k: v for k, v in metrics.items() if k not in ("counts", "accuracy")}


def summarise(rows: list[dict]) -> list[dict]:
    """One row per (model, N): means over seeds; the error is the bootstrap std of the test evaluation,
    added in quadrature to the seeds' spread where there are several (models that rank the test jets alike,
    e.g. by the jet mass, spread less than the test sample's own fluctuation)."""
    out = []
    for key in dict.fromkeys((r["model"], r["n_train"]) for r in rows):
        sel = [r for r in rows if (r["model"], r["n_train"]) == key]
        row = {"model": key[0], "n_train": key[1], "seeds": len(sel), "params": sel[0]["params"]}
        for k in ("auc", "accuracy", "rejection_30", "rejection_50", "shift_auc", "shift_rejection_30"):
            if k not in sel[0]:
                continue
            values = np.array([r[k] for r in sel])
            row[k] = float(values.mean())
            bootstrap = float(np.mean([r[f"{k}_std"] for r in sel]))
            spread = float(values.std(ddof=1)) if len(sel) > 1 else 0.0
            row[f"{k}_err"] = float(np.hypot(bootstrap, spread))
        for k in ("train_seconds", "train_jets_per_s", "inference_jets_per_s"):
            row[k] = float(np.mean([r[k] for r in sel]))
        out.append(row)
    return out


def _cell(row: dict, key: str, digits: int) -> str:
    return f"{row[key]:.{digits}f} ± {row[key + '_err']:.{digits}f}" if key in row else "–"


def write_outputs(rows: list[dict], out: Path, reference: dict | None = None) -> None:
    """results.json (every point), table.md (means over seeds) and efficiency.png (AUC and 1/εB(εS = 0.3)
    against the training size); `reference` (:func:`jet_mass_reference`) adds the jet mass's line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarise(rows)
    with atomic_file(out / "results.json") as tmp:
        results = {"points": rows, "summary": summary, "jet_mass": reference}
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    cols = ["model", "N train", "seeds", "params", "AUC", "accuracy", "1/εB @ εS=0.3", "1/εB @ εS=0.5",
            "AUC (shifted test)", "1/εB @ 0.3 (shifted)", "train s", "train jets/s", "infer jets/s"]
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for r in summary:
        cells = [r["model"], str(r["n_train"]), str(r["seeds"]), str(r["params"]), _cell(r, "auc", 4),
                 _cell(r, "accuracy", 4), _cell(r, "rejection_30", 1), _cell(r, "rejection_50", 1),
                 _cell(r, "shift_auc", 4), _cell(r, "shift_rejection_30", 1), f"{r['train_seconds']:.0f}",
                 f"{r['train_jets_per_s']:.0f}", f"{r['inference_jets_per_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if reference:
        mass = {k: v["value"] for k, v in reference.items()}
        mass |= {f"{k}_err": v["std"] for k, v in reference.items()}
        lines.append("| jet mass (untrained) | – | – | 0 | " + " | ".join(
            [_cell(mass, "auc", 4), "–", _cell(mass, "rejection_30", 1), _cell(mass, "rejection_50", 1)])
            + " | – | – | – | – | – |")
    with atomic_file(out / "table.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for model in dict.fromkeys(r["model"] for r in summary):
        sel = sorted((r for r in summary if r["model"] == model), key=lambda r: r["n_train"])
        n = [r["n_train"] for r in sel]
        for ax, key in zip(axes, ("auc", "rejection_30"), strict=True):
            ax.errorbar(n, [r[key] for r in sel], [r[key + "_err"] for r in sel], marker="o", label=model)
    if reference:
        for ax, key in zip(axes, ("auc", "rejection_30"), strict=True):
            ax.axhline(reference[key]["value"], color="grey", ls="--", label="jet mass (untrained)")
    for ax, label in zip(axes, ["ROC AUC", "1/εB at εS = 0.3"], strict=True):
        ax.set(xscale="log", xlabel="training jets", ylabel=label)
        ax.grid(alpha=0.3)
    axes[1].set_yscale("log")
    axes[0].legend()
    fig.tight_layout()
    with atomic_file(out / "efficiency.png") as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def _epochs(spec: list[str], sizes: list[int]) -> dict[int, int]:
    """SIZE=EPOCHS items (a bare number applies to every size) -> epochs per training size."""
    epochs: dict[int, int] = {}
    for item in spec:
        size, _, value = item.rpartition("=")
        for n in ([int(size)] if size else sizes):
            epochs[n] = int(value)
    missing = [n for n in sizes if n not in epochs]
    if missing:
        raise SystemExit(f"error: --epochs: no epochs given for sizes {missing}")
    return epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", nargs="+", type=Path, required=True)
    parser.add_argument("--val", nargs="+", type=Path, required=True)
    parser.add_argument("--test", nargs="+", type=Path, required=True)
    parser.add_argument("--shift-test", nargs="+", type=Path, default=None)
    parser.add_argument("--shift-size", type=int, default=10_000, help="N whose models meet the shifted test")
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 10_000, 100_000])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", type=Path, default=Path("study"))
    parser.add_argument("--epochs", nargs="+", default=["30"], help="EPOCHS or SIZE=EPOCHS items")
    parser.add_argument("--seeds", type=int, default=3, help="seeds at the smallest size")
    parser.add_argument("--max-constituents", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--max-val-jets", type=int, default=None, help="validation jets per point")
    parser.add_argument("--compile", nargs="*", default=["lgatr"], choices=list(MODELS),
                        help="models trained through torch.compile")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--overrides", type=json.loads, default={},
                        help='model configs, e.g. \'{"lorentznet": {"hidden": 32, "layers": 4}}\'')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    epochs = _epochs(args.epochs, args.sizes)
    args.out.mkdir(parents=True, exist_ok=True)
    files = {"train": args.train, "val": args.val, "test": args.test, "shift": args.shift_test or []}
    rows, reference = [], jet_mass_reference(args.test, args.max_constituents)
    for size in sorted(args.sizes):
        for seed in range(args.seeds if size == min(args.sizes) else 1):
            for model in args.models:
                row = run_point(model, size, seed, files, args.out, epochs=epochs[size],
                                batch_size=args.batch_size, lr=args.lr, device=args.device,
                                max_particles=args.max_constituents, quiet=args.quiet,
                                overrides=args.overrides.get(model), max_val_jets=args.max_val_jets,
                                shift=bool(args.shift_test) and size == args.shift_size,
                                compile_model=model in args.compile)
                print(json.dumps(row), flush=True)
                rows.append(row)
                write_outputs(rows, args.out, reference)


if __name__ == "__main__":
    main()
