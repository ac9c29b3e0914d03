"""Mixed jet samples with a known signal fraction: the "data" of a template fit.

Draws exactly round(fraction * n_jets) signal jets and the rest background jets, without replacement, from two
ROOT files written by the generator (docs/ARCHITECTURE.md 3.4), shuffles them and writes a file of the same
layout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from catalogs.jets.rootio import open_tree, write_jets
from common.errors import InputError


@dataclass(frozen=True)
class MixReport:
    """What a mixed file holds: its path, the jets drawn from each source and the true signal fraction."""

    path: Path
    n_signal: int
    n_background: int

    @property
    def fraction(self) -> float:
        """The true signal fraction of the written sample."""
        return self.n_signal / (self.n_signal + self.n_background)


def _draw(path: str | os.PathLike[str], n_jets: int, rng: np.random.Generator) -> dict[str, Any]:
    """`n_jets` jets of `path`, drawn without replacement (in file order), as `write_jets` takes them."""
    tree = open_tree(path)
    if tree.num_entries < n_jets:
        raise InputError(f"{path}: tree: holds {tree.num_entries} jets, {n_jets} needed for the mixture")
    rows = np.sort(rng.choice(tree.num_entries, size=n_jets, replace=False))
    arrays = tree.arrays(library="ak")[rows]
    return {name: arrays[name] for name in arrays.fields if name != "npart"}


def mix_jet_samples(
    signal: str | os.PathLike[str],
    background: str | os.PathLike[str],
    *,
    fraction: float,
    n_jets: int,
    out: str | os.PathLike[str],
    seed: int = 0,
) -> MixReport:
    """Write `n_jets` shuffled jets, a fraction `fraction` from `signal` and the rest from `background`."""
    if not 0.0 <= fraction <= 1.0:
        raise InputError(f"--fraction: expected a number in [0, 1], got {fraction}")
    if n_jets < 1:
        raise InputError(f"--n: expected a positive number of jets, got {n_jets}")
    rng = np.random.default_rng(seed)
    n_signal = round(fraction * n_jets)
    parts = [_draw(signal, n_signal, rng), _draw(background, n_jets - n_signal, rng)]
    parts = [part for part, count in zip(parts, (n_signal, n_jets - n_signal), strict=True) if count]
    if len(parts) == 2 and set(parts[0]) != set(parts[1]):
        raise InputError(
            f"{background}: tree: branches differ from {signal}: "
            f"{sorted(set(parts[0]) ^ set(parts[1]))}"
        )
    order = rng.permutation(n_jets)
    mixed = {name: ak.concatenate([part[name] for part in parts])[order] for name in parts[0]}
    mixed = {name: v if name.startswith("part_") else ak.to_numpy(v) for name, v in mixed.items()}
    write_jets(out, [mixed])
    return MixReport(Path(out), n_signal, n_jets - n_signal)
