"""Coverage and R-hat of a validation's injections, as the Markdown block that the README's calibration table
holds: of the injections finished so far (its checkpoint folder), or of a finished run (its output folder).

    python calibration/summarise_checkpoint.py [calibration/.val200.checkpoint]   # or .scale32.checkpoint
    python calibration/summarise_checkpoint.py calibration/val200                 # a finished run

A checkpoint's batch files hold per injection the posterior fraction below the truth ``u`` (K, F), R-hat,
divergences, draws per chain, how many times it was fitted again and its NUTS seconds
(:mod:`inference.ia.validation.run`); a finished run's ``injections.csv`` holds the same but the seconds, and
its ``coverage.json`` the total seconds and the SBC p-values, which the table then adds. Intervals contain the
truth as in :mod:`inference.ia.validation.report`. Each fit is saved as it ends, so a batch that the run's
retry policy (:mod:`inference.ia.validation.retry`) will fit again is counted at its last fit, and said so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from emulators.ia.default_emulator import default_emulator_path
from inference.ia.validation.report import LEVELS, inside
from inference.ia.validation.retry import needs_retry
from inference.ia.validation.settings import ValidationSettings

NAMES = json.loads((default_emulator_path() / "emulator.json").read_text())["param_names"]  # all free


def from_checkpoint(folder: Path) -> tuple[dict, int]:
    """The finished injections' arrays (as the batch files name them; ``wall`` per injection) and how many
    of the batches are still to be fitted again."""
    batches = [dict(np.load(path)) for path in sorted(folder.glob("*.npz"))]
    if not batches:
        sys.exit(f"{folder}: no finished batches")
    settings = ValidationSettings(**json.loads((folder / "key.json").read_text())["settings"])
    cat = {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}
    cat["total"] = settings.n_injections
    return cat, sum(needs_retry(batch, settings) for batch in batches)


def from_finished(folder: Path) -> dict:
    """A finished run's arrays, read from its injections.csv and coverage.json (``wall``: the total only)."""
    table = np.genfromtxt(folder / "injections.csv", delimiter=",", names=True)
    coverage = json.loads((folder / "coverage.json").read_text())
    run = coverage["run"]
    return {
        "u": np.stack([table[f"{name}_u"] for name in NAMES], axis=1),
        "r_hat": np.stack([table[f"{name}_r_hat"] for name in NAMES], axis=1),
        "draws": table["draws"], "retried": table["retried"], "div": table["divergences"],
        "wall": np.array([run["wall_time_s"]]), "total": run["n_injections"],
        "sbc_p": [coverage["parameters"][name]["sbc_chi2_p"] for name in NAMES],
    }  # fmt: skip


def main(folder: Path) -> None:
    finished = (folder / "coverage.json").is_file()
    cat, pending = (from_finished(folder), 0) if finished else from_checkpoint(folder)
    u, r_hat = cat["u"], cat["r_hat"]
    worst = r_hat.max(axis=1)
    se = [np.sqrt(level * (1 - level) / len(u)) for level in LEVELS]
    sbc = cat.get("sbc_p")
    print(f"{len(u)} of {cat['total']} injections (binomial standard error ±{se[0]:.3f} at 68%, "
          f"±{se[1]:.3f} at 95%):")
    head, rule = ("| SBC χ² p |", "| --- |") if sbc else ("|", "|")
    print(f"\n| parameter | 68% coverage | 95% coverage | largest R-hat {head}")
    print(f"| --- | --- | --- | --- {rule}")
    covered = {level: inside(u, level) for level in LEVELS}
    for i, name in enumerate(NAMES):
        cover = " | ".join(f"{covered[level][:, i].mean():.3f}" for level in LEVELS)
        print(f"| {name} | {cover} | {r_hat[:, i].max():.5f} |" + (f" {sbc[i]:.3f} |" if sbc else ""))
    print(f"| pooled | {' | '.join(f'{covered[level].mean():.3f}' for level in LEVELS)} | {worst.max():.5f} |"
          + (" |" if sbc else ""))
    draws, counts = np.unique(cat["draws"].astype(int), return_counts=True)
    refits = cat["retried"].astype(int)
    per = f"mean {cat['wall'].sum() / len(u):.0f}" if finished else f"median {np.median(cat['wall']):.0f}"
    print(f"\nR-hat < 1.01 for {np.mean(worst < 1.01):.3f} of them ({np.sum(refits > 0)} fitted again "
          f"with the careful settings, {np.sum(refits > 1)} of them twice; median of the largest per "
          f"injection {np.median(worst):.4f}); {int(cat['div'].sum())} divergences in all; draws per chain "
          + ", ".join(f"{d} ({c})" for d, c in zip(draws, counts, strict=True))
          + f"; NUTS {cat['wall'].sum() / 3600:.2f} core-hours ({per} s per injection).")
    if pending:
        print(f"{pending} of these batches missed R-hat or had too many divergences and are to be fitted "
              "again: their rows above are their last fit, not their final one.")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "calibration/.val200.checkpoint"))
