"""Evaluate a saved tagger on a test file (metrics.json, ROC and score plots) and write scores to HDF5.

    evaluate_tagger("tagger/", ["test.root"], "report/")    # metrics with bootstrap uncertainties
    predict_file("tagger/", "data.root", "scores.h5")
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from catalogs.jets import rootio
from common.atomic import atomic_directory, atomic_file
from common.device import resolve_device
from common.errors import InputError
from common.progress import progress
from emulators.taggers import data as tagger_data
from emulators.taggers.metrics import roc_curve, tagger_metrics
from emulators.taggers.registry import load_tagger, predict_scores, trained_constituents


def _plots(directory: Path, labels: np.ndarray, scores: np.ndarray, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    eff_s, eff_b, _ = roc_curve(labels, scores)
    keep = eff_b > 0
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(eff_s[keep], 1 / eff_b[keep])
    ax.set(yscale="log", xlabel="signal efficiency εS", ylabel="background rejection 1/εB", title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(directory / "roc.png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 4))
    bins = np.linspace(0, 1, 41)
    ax.hist(scores[labels == 1], bins, histtype="step", density=True, label="top")
    ax.hist(scores[labels == 0], bins, histtype="step", density=True, label="QCD")
    ax.set(yscale="log", xlabel="tagger score", ylabel="density", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(directory / "scores.png", dpi=120)
    plt.close(fig)


def evaluate_tagger(tagger_dir: str | Path, test_paths: Sequence[str | Path], out: str | Path, *,
                    device: str = "auto", seed: int = 0, n_bootstrap: int = 200, batch_size: int = 256
                    ) -> dict[str, Any]:
    """Score the top and QCD jets of `test_paths` and write report `out/`: metrics.json (accuracy, AUC,
    1/εB at εS = 0.3 and 0.5 with bootstrap std and 16/84 % quantiles, inference jets/s), roc.png, scores.png.
    """
    model, meta = load_tagger(tagger_dir)
    files = tagger_data.scan_files(test_paths, "TEST")
    p, mask, labels = tagger_data.read_all(files, trained_constituents(meta))
    if labels.min() == labels.max():
        raise InputError(f"{files[0].path}: label_*: the test jets are all of one class; need top and QCD")
    dev = resolve_device(device)
    start = time.perf_counter()
    scores = predict_scores(model, p, mask, batch_size=batch_size, device=dev)
    seconds = time.perf_counter() - start
    metrics = tagger_metrics(labels, scores, n_bootstrap=n_bootstrap, seed=seed)
    report = {"tagger": str(tagger_dir), "model": meta["model"], "params": meta.get("params"),
              "test_files": [str(f.path) for f in files], "metrics": metrics,
              "inference": {"device": str(dev), "jets_per_s": len(labels) / seconds,
                            "batch_size": batch_size}}
    with atomic_directory(out) as tmp:
        (tmp / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        np.savez_compressed(tmp / "scores.npz", score=scores, label=labels.astype(np.int8))
        _plots(tmp, labels, scores, f"{meta['model']} (AUC {metrics['auc']['value']:.4f})")
    return report


def predict_file(tagger_dir: str | Path, path: str | Path, out: str | Path, *, device: str = "auto",
                 batch_size: int = 256, step_size: int = 20_000, quiet: bool = False) -> int:
    """Write `/score` (top probability) and `/label` (1 top, 0 QCD, -1 another class) for every labelled jet
    of `path` (in file order, streamed) to the HDF5 file `out`; returns the number of jets."""
    import h5py

    model, meta = load_tagger(tagger_dir)
    dev = resolve_device(device)
    max_particles = trained_constituents(meta)
    scores, labels = [], []
    for chunk in progress(rootio.iter_jets([path], step_size=step_size, max_particles=max_particles),
                          desc="predict", quiet=quiet):
        if not np.isfinite(chunk.p4).all():
            raise InputError(f"{path}: part_energy/part_px/part_py/part_pz: non-finite momenta")
        codes = np.array([tagger_data.CLASSES.get(name, -1) for name in chunk.label_names])
        labels.append(codes[chunk.labels])
        scores.append(predict_scores(model, chunk.p4, chunk.mask, batch_size=batch_size, device=dev))
    with atomic_file(out) as tmp, h5py.File(tmp, "w") as h5:
        h5["score"] = np.concatenate(scores)
        h5["label"] = np.concatenate(labels).astype(np.int8)
        h5.attrs.update({"tagger": str(tagger_dir), "model": meta["model"], "source": str(path)})
    return int(sum(len(s) for s in scores))
