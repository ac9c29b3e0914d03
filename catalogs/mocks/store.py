"""Crash-safe storage of a mock dataset under construction (docs/ARCHITECTURE.md 3.1), so a killed run
resumes.

Each finished row goes to its own small file in a hidden folder beside the output, written to a temporary
name and renamed; now and then (and at the end) every finished row is assembled into the HDF5 output, again
through a temporary name and a rename, and the row files it now holds are deleted. A kill at any moment
leaves the previous HDF5 (rows marked in /done) plus row files, never a torn file; a restart reads both.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from catalogs.mocks.correlations import STATISTICS, r_centres
from common.atomic import atomic_directory, atomic_file
from common.errors import InputError


@dataclass(frozen=True)
class RowResult:
    """Every realisation of one design point: statistics (R, B), galaxy counts (R,), failure reasons."""

    row: int
    stats: dict[str, np.ndarray]
    n_gal: np.ndarray
    failures: tuple[str, ...]  # "" for a good realisation, else why it failed after every retry


def check_writable(out: Path) -> None:
    """Refuse an output that cannot be written, before any work is done."""
    parent = out.parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), Path("."))
    if out.is_dir():
        raise InputError(f"{out}: is a folder; expected a file path for the HDF5 dataset")
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{out}: the output folder {parent} is not writable")


class MockStore:
    """The output file of one run and its folder of finished rows; `plan` (a dict) identifies the run."""

    def __init__(self, out: Path, plan: dict, n_rows: int, realisations: int, n_bins: int) -> None:
        self.out, self.plan = out, plan
        self.parts = out.parent / f".{out.name}.parts"
        shape = (n_rows, realisations, n_bins)
        self.stats = {name: np.full(shape, np.nan) for name in STATISTICS}
        self.n_gal = np.zeros((n_rows, realisations), dtype=np.int64)
        self.done = np.zeros(n_rows, dtype=bool)
        self.failures: dict[tuple[int, int], str] = {}
        self._unsaved: list[int] = []

    # -- resume ---------------------------------------------------------------------------------------------
    def open(self) -> None:
        """Load the rows an earlier run of the same plan finished; refuse files from another plan."""
        check_writable(self.out)
        for stale in self.out.parent.glob(f".{self.out.name}.*.tmp"):  # temporaries of a killed run
            stale.unlink(missing_ok=True) if stale.is_file() else shutil.rmtree(stale, ignore_errors=True)
        if self.out.exists():
            self._load_output()
        if self.parts.is_dir():
            self._load_parts()
        else:
            with atomic_directory(self.parts) as tmp:
                (tmp / "plan.json").write_text(json.dumps(self.plan))

    def _refuse(self, path: Path, what: str) -> None:
        raise InputError(f"{path}: {what}; remove it, or run again with the settings that made it")

    def _load_output(self) -> None:
        try:
            with h5py.File(self.out, "r") as f:
                key = f.attrs.get("run_key")
                if key != self.plan["run_key"]:
                    self._refuse(
                        self.out, "exists and was made with other settings (seed, design, bins, halos)"
                    )
                self.plan["created"] = str(f.attrs.get("created", self.plan["created"]))
                done = f["done"][:]
                for name in STATISTICS:
                    self.stats[name][done] = f[name][:][done]
                self.n_gal[done] = f["n_gal"][:][done]
                for row, real, reason in json.loads(f.attrs["failures"]):
                    self.failures[(row, real)] = reason
                self.done |= done
        except (OSError, KeyError) as err:
            raise InputError(f"{self.out}: exists and is not a mock dataset ({err})") from err

    def _load_parts(self) -> None:
        try:
            plan = json.loads((self.parts / "plan.json").read_text())
        except (OSError, ValueError):
            plan = {}
        if plan.get("run_key") != self.plan["run_key"]:
            self._refuse(self.parts, "holds rows of a run with other settings")
        self.plan["created"] = plan.get("created", self.plan["created"])
        for stale in self.parts.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        for part in sorted(self.parts.glob("row_*.npz")):
            try:
                with np.load(part) as data:
                    result = RowResult(
                        int(data["row"]),
                        {k: data[k] for k in STATISTICS},
                        data["n_gal"],
                        tuple(str(s) for s in data["failures"]),
                    )
            except (OSError, ValueError, KeyError):
                part.unlink(
                    missing_ok=True
                )  # cannot happen with rename-on-write; recompute the row if it does
                continue
            self._record(result)
            self._unsaved.append(result.row)

    # -- progress -------------------------------------------------------------------------------------------
    def _record(self, result: RowResult) -> None:
        for name in STATISTICS:
            self.stats[name][result.row] = result.stats[name]
        self.n_gal[result.row] = result.n_gal
        for real, reason in enumerate(result.failures):
            if reason:
                self.failures[(result.row, real)] = reason
        self.done[result.row] = True

    def add(self, result: RowResult) -> None:
        """Keep a finished row: its own file first (renamed into place), then memory."""
        with atomic_file(self.parts / f"row_{result.row:08d}.npz") as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                row=result.row,
                n_gal=result.n_gal,
                failures=np.array(result.failures, dtype=str),
                **result.stats,
            )
        self._record(result)
        self._unsaved.append(result.row)

    def save(
        self,
        params: np.ndarray,
        prior_lo: np.ndarray,
        prior_hi: np.ndarray,
        r_edges: np.ndarray,
        attrs: dict,
        final: bool,
    ) -> None:
        """Write every finished row to the HDF5 output (atomically), then drop the row files it now holds.

        The file uses HDF5's 1.10 format (``libver="v110"``): its dense attribute storage holds the
        ``failed`` and ``failures`` attributes past the 64 KB limit of the oldest format (thousands of
        failed realisations in a large design).
        """
        with atomic_file(self.out) as tmp, h5py.File(tmp, "w", libver=("v110", "latest")) as f:
            f.create_dataset("params", data=params)
            f["params"].attrs.update(
                param_names=np.array(self.plan["param_names"], dtype=h5py.string_dtype()),
                prior_lo=prior_lo,
                prior_hi=prior_hi,
            )
            f.create_dataset("r_edges", data=r_edges)
            f.create_dataset("r", data=r_centres(r_edges))
            for name in STATISTICS:
                f.create_dataset(name, data=self.stats[name])
            f.create_dataset("n_gal", data=self.n_gal)
            f.create_dataset("done", data=self.done)
            failed = np.array(sorted(self.failures), dtype=np.int64).reshape(-1, 2)
            f.attrs.update(
                attrs,
                run_key=self.plan["run_key"],
                failed=failed,
                failures=json.dumps([[r, k, why] for (r, k), why in sorted(self.failures.items())]),
            )
        for row in self._unsaved:
            (self.parts / f"row_{row:08d}.npz").unlink(missing_ok=True)
        self._unsaved.clear()
        if final:
            shutil.rmtree(self.parts, ignore_errors=True)
