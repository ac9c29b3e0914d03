"""Coverage and R-hat of the injections a validation has finished so far, read from its checkpoint folder,
as the Markdown block that the README's calibration table holds.

    python calibration/summarise_checkpoint.py [calibration/.val200.checkpoint]   # or .scale32.checkpoint

Each batch file holds per injection the posterior fraction below the truth ``u`` (K, F), R-hat, divergences,
draws per chain and how many times it was fitted again (:mod:`inference.ia.validation.run`); intervals contain
the truth as in :mod:`inference.ia.validation.report`. Each fit is saved as it ends, so a batch that the run's
retry policy (:mod:`inference.ia.validation.retry`) will fit again is counted at its last fit, and said so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from emulators.ia.default_emulator import default_emulator_path
from inference.ia.validation.report import LEVELS
from inference.ia.validation.retry import needs_retry
from inference.ia.validation.settings import ValidationSettings

NAMES = json.loads((default_emulator_path() / "emulator.json").read_text())["param_names"]  # all free


def main(folder: Path) -> None:
    batches = [dict(np.load(path)) for path in sorted(folder.glob("*.npz"))]
    if not batches:
        sys.exit(f"{folder}: no finished batches")
    cat = {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}
    settings = ValidationSettings(**json.loads((folder / "key.json").read_text())["settings"])
    total = settings.n_injections
    pending = sum(needs_retry(batch, settings) for batch in batches)  # a refit is under way or to come
    u, r_hat = cat["u"], cat["r_hat"]
    worst = r_hat.max(axis=1)
    se = [np.sqrt(level * (1 - level) / len(u)) for level in LEVELS]
    print(f"{len(u)} of {total} injections (binomial standard error ±{se[0]:.3f} at 68%, "
          f"±{se[1]:.3f} at 95%):")
    print("\n| parameter | 68% coverage | 95% coverage | largest R-hat |\n| --- | --- | --- | --- |")
    inside = {level: np.abs(u - 0.5) <= level / 2 for level in LEVELS}
    for i, name in enumerate(NAMES):
        cover = " | ".join(f"{inside[level][:, i].mean():.3f}" for level in LEVELS)
        print(f"| {name} | {cover} | {r_hat[:, i].max():.5f} |")
    print(f"| pooled | {' | '.join(f'{inside[level].mean():.3f}' for level in LEVELS)} | {worst.max():.5f} |")
    draws, counts = np.unique(cat["draws"].astype(int), return_counts=True)
    refits = cat["retried"].astype(int)
    print(f"\nR-hat < 1.01 for {np.mean(worst < 1.01):.3f} of them ({np.sum(refits > 0)} fitted again "
          f"with the careful settings, {np.sum(refits > 1)} of them twice; median of the largest per "
          f"injection {np.median(worst):.4f}); {int(cat['div'].sum())} divergences in all; draws per chain "
          + ", ".join(f"{d} ({c})" for d, c in zip(draws, counts, strict=True))
          + f"; NUTS {cat['wall'].sum() / 3600:.2f} core-hours (median {np.median(cat['wall']):.0f} s per "
          "injection).")
    if pending:
        print(f"{pending} of these batches missed R-hat or had too many divergences and are to be fitted "
              "again: their rows above are their last fit, not their final one.")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "calibration/.val200.checkpoint"))
