"""Read a mock dataset (docs/ARCHITECTURE.md 3.1) into emulator training targets, and the scalers of the
emulator.

Per row and bin the target is the mean of the R realisations (log of it for ξ) and its noise is the squared
standard error of that mean, ``sem2 = s^2 / R`` with ``s`` the sample standard deviation between
realisations (for log ξ by the delta method, ``sem2 / mean^2``). Lengths in comoving Mpc/h.

Rows are handled as follows, and every exclusion is counted in :attr:`MockData.excluded`:

- rows not marked ``/done`` are excluded ("not_done");
- rows whose non-finite values are realisations the simulator recorded as failed (the root attribute
  ``failed``, (K, 2) row and realisation) are excluded and counted ("failed_realisations");
- any other row with a NaN or infinite parameter or statistic is bad input (:class:`InputError`) unless
  ``drop_nan=True``, which excludes and counts them ("nan");
- bins where the mean ξ is not positive cannot enter log ξ: those (row, bin) entries are masked out of the
  ξ loss (counted in ``xi_nonpositive_bins`` and ``xi_nonpositive_rows``); the row's ω and η still train.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from catalogs.mocks.correlations import STATISTICS
from common.errors import InputError
from common.hashing import hash_files
from common.hdf5 import check_increasing, numeric_dataset

LOG_STATISTICS = ("xi",)


@dataclass
class MockData:
    """A mock dataset reduced to what the emulator needs; arrays of shape (N, S, B) follow STATISTICS."""

    path: str
    params: np.ndarray  # (N, P) physical units
    param_names: list[str]
    prior_lo: np.ndarray
    prior_hi: np.ndarray
    r: np.ndarray  # (B,) Mpc/h
    r_edges: np.ndarray  # (B+1,) Mpc/h
    mean: np.ndarray  # (N, S, B) realisation mean, physical units
    std: np.ndarray  # (N, S, B) scatter between realisations (ddof=1), physical units
    n_real: int
    sha256: str
    excluded: dict[str, int] = field(default_factory=dict)
    row_index: np.ndarray | None = None  # indices of the kept rows in the file

    @property
    def sem2(self) -> np.ndarray:
        """Squared standard error of the realisation mean, (N, S, B)."""
        return self.std**2 / self.n_real

    @property
    def mask(self) -> np.ndarray:
        """(N, S, B) bool: entries that can enter the loss (positive mean where the log is taken)."""
        mask = np.ones(self.mean.shape, dtype=bool)
        for s, name in enumerate(STATISTICS):
            if name in LOG_STATISTICS:
                mask[:, s] = self.mean[:, s] > 0
        return mask

    def subset(self, rows: np.ndarray) -> MockData:
        """The same dataset restricted to ``rows`` (indices into the kept rows)."""
        return MockData(self.path, self.params[rows], self.param_names, self.prior_lo, self.prior_hi, self.r,
                        self.r_edges, self.mean[rows], self.std[rows], self.n_real, self.sha256,
                        dict(self.excluded), None if self.row_index is None else self.row_index[rows])


def _require(h5: h5py.File, path: str, name: str) -> np.ndarray:
    return numeric_dataset(h5, path, name, f"missing (a mock dataset needs /params, /r, /r_edges, "
                           f"/{', /'.join(STATISTICS)} and /done)")


def _check_shapes(path: str, params: np.ndarray, r: np.ndarray, r_edges: np.ndarray, stats: dict,
                  done: np.ndarray, attrs: dict) -> None:
    if params.ndim != 2:
        raise InputError(f"{path}: /params: expected shape (N, P), got {params.shape}")
    n, p = params.shape
    if r.ndim != 1 or r_edges.shape != (r.size + 1,):
        raise InputError(f"{path}: /r_edges: expected shape ({r.size + 1},) for {r.size} bins, "
                         f"got {r_edges.shape}")
    check_increasing(r, path, "r")
    check_increasing(r_edges, path, "r_edges")
    for name, values in stats.items():
        if values.ndim != 3 or values.shape[0] != n or values.shape[2] != r.size:
            raise InputError(f"{path}: /{name}: expected shape ({n}, R, {r.size}), got {values.shape}")
    shapes = {values.shape for values in stats.values()}
    if len(shapes) != 1:
        raise InputError(f"{path}: /{', /'.join(STATISTICS)}: expected one shape (N, R, B), "
                         f"got {sorted(shapes)}")
    if next(iter(shapes))[1] < 2:
        raise InputError(f"{path}: /xi: at least 2 realisations per row are needed for their scatter")
    if done.shape != (n,):
        raise InputError(f"{path}: /done: expected shape ({n},), got {done.shape}")
    for key in ("param_names", "prior_lo", "prior_hi"):
        if key not in attrs:
            raise InputError(f"{path}: /params: attribute {key} missing")
        if len(attrs[key]) != p:
            raise InputError(f"{path}: /params: attribute {key} has {len(attrs[key])} entries, expected {p}")


def read_mocks(path: str | os.PathLike[str], *, drop_nan: bool = False) -> MockData:
    """Read and check a mock dataset; see the module docstring for what is excluded and why."""
    path = str(path)
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    try:
        h5 = h5py.File(path, "r")
    except OSError as err:
        raise InputError(f"{path}: not an HDF5 file ({err})") from err
    with h5:
        params = _require(h5, path, "params").astype(np.float64)
        r, r_edges = _require(h5, path, "r"), _require(h5, path, "r_edges")
        stats = {name: _require(h5, path, name).astype(np.float64) for name in STATISTICS}
        done = _require(h5, path, "done").astype(bool)
        attrs = dict(h5["params"].attrs)
        failed = np.asarray(h5.attrs.get("failed", np.zeros((0, 2))), dtype=np.int64).reshape(-1, 2)
    _check_shapes(path, params, r, r_edges, stats, done, attrs)
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in attrs["param_names"]]
    lo, hi = np.asarray(attrs["prior_lo"], float), np.asarray(attrs["prior_hi"], float)
    if not np.all(hi > lo):
        raise InputError(f"{path}: /params: prior_hi must exceed prior_lo for every parameter")
    cube = np.stack([stats[name] for name in STATISTICS], axis=1)  # (N, S, R, B)
    finite = np.isfinite(params).all(axis=1) & np.isfinite(cube).all(axis=(1, 2, 3))
    excluded = {"not_done": int((~done).sum())}
    recorded = np.zeros(len(done), bool)
    recorded[failed[(failed[:, 0] >= 0) & (failed[:, 0] < len(done)), 0]] = True
    excluded["failed_realisations"] = int((done & ~finite & recorded).sum())
    bad = done & ~finite & ~recorded
    if bad.any() and not drop_nan:
        raise InputError(f"{path}: /{', /'.join(STATISTICS)}: {int(bad.sum())} finished rows hold NaN or inf "
                         f"(first: row {int(np.flatnonzero(bad)[0])}); expected finite values "
                         "(exclude them with --drop-nan)")
    excluded["nan"] = int(bad.sum())
    keep = np.flatnonzero(done & finite)
    if keep.size < 2:
        raise InputError(f"{path}: /done: {keep.size} usable rows; at least 2 are needed")
    cube = cube[keep]
    mean, std = cube.mean(axis=2), cube.std(axis=2, ddof=1)
    data = MockData(path, params[keep], names, lo, hi, np.asarray(r, float), np.asarray(r_edges, float), mean,
                    std, int(cube.shape[2]), hash_files(path), excluded, keep)
    nonpos = ~data.mask[:, STATISTICS.index("xi")]
    excluded["xi_nonpositive_bins"] = int(nonpos.sum())
    excluded["xi_nonpositive_rows"] = int(nonpos.any(axis=1).sum())
    return data


def mock_world(path: str | os.PathLike[str]) -> dict[str, object]:
    """The simulated world a mock dataset was drawn from, from its attributes (docs/ARCHITECTURE.md 3.1):
    the halo catalog's name and box (Mpc/h) and the satellites' phase space; {} where any is absent."""
    with h5py.File(path, "r") as h5:
        try:
            halos = json.loads(h5.attrs["halo_catalog"])
            world = {"halo_catalog": str(halos["name"]), "Lbox": float(halos["Lbox"]),
                     "satellites": str(json.loads(h5.attrs["model"])["components"]["satellites_profile"])}
        except (KeyError, TypeError, ValueError):
            return {}
    return world


def split_rows(n: int, fractions: tuple[float, float], seed: int) -> tuple[np.ndarray, ...]:
    """Seeded split of ``n`` rows into (train, validation, test) with the given validation/test fractions."""
    order = np.random.default_rng(seed).permutation(n)
    n_val, n_test = (max(1, round(f * n)) if f > 0 else 0 for f in fractions)
    if n - n_val - n_test < 1:
        raise InputError(f"dataset: {n} rows are too few for a validation and a test split")
    return np.sort(order[n_val + n_test:]), np.sort(order[:n_val]), np.sort(order[n_val:n_val + n_test])


@dataclass
class Scalers:
    """Input box -> [-1, 1]; per statistic and bin, target = (t - center) / scale with t = log ξ, ω, η."""

    prior_lo: np.ndarray  # (P,)
    prior_hi: np.ndarray  # (P,)
    center: np.ndarray  # (S, B)
    scale: np.ndarray  # (S, B)

    @classmethod
    def fit(cls, data: MockData) -> Scalers:
        """Box from the dataset's prior; centre and scale from the training rows' unmasked targets."""
        t, mask = transformed_targets(data)
        masked = np.ma.masked_array(t, ~mask)
        center = masked.mean(axis=0).filled(0.0)
        scale = masked.std(axis=0).filled(1.0)
        scale = np.where(scale > 1e-12 * np.maximum(np.abs(center), 1e-300), scale, 1.0)
        return cls(data.prior_lo.copy(), data.prior_hi.copy(), center, scale)

    def inputs(self, params: np.ndarray) -> np.ndarray:
        """Physical parameters (N, P) -> [-1, 1] inside the prior box."""
        return 2.0 * (params - self.prior_lo) / (self.prior_hi - self.prior_lo) - 1.0

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Scalers:
        return cls(*(np.asarray(d[k], dtype=np.float64) for k in ("prior_lo", "prior_hi", "center", "scale")))


def transformed_targets(data: MockData) -> tuple[np.ndarray, np.ndarray]:
    """(t, mask): the realisation means with log taken for ξ (masked entries set to 0), and the mask."""
    mask = data.mask
    t = data.mean.copy()
    for s, name in enumerate(STATISTICS):
        if name in LOG_STATISTICS:
            t[:, s] = np.log(np.where(mask[:, s], t[:, s], 1.0))
    return t, mask


def training_arrays(data: MockData, scalers: Scalers) -> tuple[np.ndarray, ...]:
    """(x, y, sem2, mask) in scaled space (float32; mask bool): what :mod:`emulators.ia.losses` takes."""
    t, mask = transformed_targets(data)
    sem2 = data.sem2.copy()
    for s, name in enumerate(STATISTICS):
        if name in LOG_STATISTICS:  # delta method: Var[log m] = Var[m] / m^2
            safe = np.where(mask[:, s], data.mean[:, s], 1.0)
            sem2[:, s] = np.where(mask[:, s], sem2[:, s] / safe**2, 0.0)
    y = (t - scalers.center) / scalers.scale
    sem2 = sem2 / scalers.scale**2
    x = scalers.inputs(data.params)
    return x.astype(np.float32), y.astype(np.float32), sem2.astype(np.float32), mask
