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

from catalogs.jets.rootio import open_tree, read_range, write_jets
from common.errors import InputError, check_number, check_seed
from common.outputs import check_output, is_root


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
    branches = [name for name in tree.keys() if name != "npart"]
    arrays = read_range(tree, Path(path), branches, 0, tree.num_entries)  # names a torn branch
    return {name: values[rows] for name, values in arrays.items()}


def mix_jet_samples(
    signal: str | os.PathLike[str],
    background: str | os.PathLike[str],
    *,
    fraction: float,
    n_jets: int,
    out: str | os.PathLike[str],
    seed: int = 0,
) -> MixReport:
    """Write `n_jets` shuffled jets, a fraction `fraction` from `signal` and the rest from `background`.

    `out` must be neither source, and an existing `out` must be a ROOT file (docs/ARCHITECTURE.md 2)."""
    check_number(fraction, "fraction", 0, 1)
    check_number(n_jets, "n_jets", 1, integer=True)
    seed = check_seed(seed)
    if Path(signal).exists() and Path(background).exists() and os.path.samefile(signal, background):
        raise InputError(f"{background}: is the signal file too; expected two different jet files")
    check_output(out, "file", inputs=(signal, background), own=is_root, what="ROOT file")
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
