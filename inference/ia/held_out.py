"""Held-out mocks for injection/recovery (:mod:`inference.ia.validation.run`): a mock dataset
(docs/ARCHITECTURE.md 3.1) read and checked against an emulator (same parameters and bins; finished, finite
rows never used in training).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from common.errors import InputError
from common.hdf5 import check_increasing, numeric_dataset
from emulators.ia.interface import Emulator
from inference.ia.binning import describe_bins, same_bins
from inference.ia.observations import STATISTICS


@dataclass
class HeldOut:
    """Held-out mocks: params (N, P) physical units, realisations (N, R, S, B) in STATISTICS order."""

    name: str
    params: np.ndarray
    realisations: np.ndarray
    r: np.ndarray  # (B,) Mpc/h
    rows: np.ndarray  # (N,) row indices in the file


def check_emulator_matches(
    path: str | Path, names: tuple[str, ...], r: np.ndarray, edges: np.ndarray | None, emulator: Emulator
) -> None:
    """InputError unless a mock file's parameter names and bins (r, edges in Mpc/h) are the emulator's."""
    if tuple(names) != tuple(emulator.param_names):
        raise InputError(
            f"{path}: /params: param_names {', '.join(names)} differ from the emulator's "
            f"{', '.join(emulator.param_names)}"
        )
    if not same_bins(r, edges, np.asarray(emulator.r), emulator.r_edges):
        raise InputError(
            f"{path}: /r: bins differ from the emulator's: {describe_bins(r, edges)} vs "
            f"{describe_bins(np.asarray(emulator.r), emulator.r_edges)}"
        )


def read_held_out(path: str | Path, emulator: Emulator) -> HeldOut:
    """Read held-out mocks (contract 3.1) for ``emulator``: same parameters and bins, finished finite rows.

    When the file is the emulator's own training file (same SHA-256), only its held-out test rows are
    used: an injection must never have been seen in training.
    """
    from common.hashing import hash_files

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such held-out mock file")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("params", "r", *STATISTICS) if k not in f]
            if missing:
                raise InputError(
                    f"{path}: /{missing[0]}: missing (expected a mock dataset, docs/ARCHITECTURE.md 3.1)"
                )
            names = tuple(
                str(n.decode() if isinstance(n, bytes) else n) for n in f["params"].attrs["param_names"]
            )
            params, r = numeric_dataset(f, path, "params"), numeric_dataset(f, path, "r")
            edges = numeric_dataset(f, path, "r_edges") if "r_edges" in f else None
            cube = np.stack([numeric_dataset(f, path, s) for s in STATISTICS], axis=2)  # (N, R, S, B)
            done = numeric_dataset(f, path, "done") if "done" in f else np.ones(len(params), bool)
    except InputError:
        raise
    except (OSError, KeyError, ValueError) as err:  # ValueError: statistics of different shapes
        raise InputError(f"{path}: not a readable mock dataset ({err})") from None
    check_increasing(r, path, "r")
    if edges is not None:
        check_increasing(edges, path, "r_edges")
    check_emulator_matches(path, names, r, edges, emulator)
    keep = done.astype(bool) & np.isfinite(cube).all(axis=(1, 2, 3)) & np.isfinite(params).all(axis=1)
    training = getattr(emulator, "doc", {}).get("training") or {}
    if training.get("data", {}).get("sha256") == hash_files(path):
        test_rows = np.zeros_like(keep)
        test_rows[np.asarray(training.get("split", {}).get("test_rows", []), dtype=int)] = True
        keep &= test_rows
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise InputError(f"{path}: no usable held-out rows (finished, finite, never used in training)")
    return HeldOut(str(path), params[rows], cube[rows], r, rows)
