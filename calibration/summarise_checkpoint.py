"""Coverage and R-hat of the injections a validation has finished so far, read from its checkpoint folder.

    python calibration/summarise_checkpoint.py [calibration/.val200.checkpoint]

Each batch file holds per injection the posterior fraction below the truth ``u`` (K, F), R-hat, divergences
and draws per chain (:mod:`inference.validation`); intervals contain the truth as in
:mod:`inference.validation_report`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from inference.default_emulator import default_emulator_path
from inference.validation_report import LEVELS

NAMES = json.loads((default_emulator_path() / "emulator.json").read_text())["param_names"]  # all free


def main(folder: Path) -> None:
    batches = [dict(np.load(path)) for path in sorted(folder.glob("*.npz"))]
    if not batches:
        sys.exit(f"{folder}: no finished batches")
    cat = {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}
    u, worst = cat["u"], cat["r_hat"].max(axis=1)
    print(f"injections {len(u)}; NUTS {cat['wall'].sum():.0f} s ({np.median(cat['wall']):.0f} s median)")
    print(f"largest R-hat per injection: median {np.median(worst):.4f}, max {worst.max():.4f}; "
          f"below 1.01 for {np.mean(worst < 1.01):.3f}; divergences {int(cat['div'].sum())}")
    draws, counts = np.unique(cat["draws"].astype(int), return_counts=True)
    print("draws per chain:", ", ".join(f"{d} ({c})" for d, c in zip(draws, counts, strict=True)))
    print(f"{'parameter':<12}" + "".join(f"{round(level * 100)}% cover".rjust(11) for level in LEVELS))
    inside = {level: np.abs(u - 0.5) <= level / 2 for level in LEVELS}
    for i, name in enumerate(NAMES):
        print(f"{name:<12}" + "".join(f"{inside[level][:, i].mean():11.3f}" for level in LEVELS))
    print(f"{'pooled':<12}" + "".join(f"{inside[level].mean():11.3f}" for level in LEVELS))
    print("binomial se " + "".join(f"{np.sqrt(level * (1 - level) / len(u)):11.3f}" for level in LEVELS))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "calibration/.val200.checkpoint"))
