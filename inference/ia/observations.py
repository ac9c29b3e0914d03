"""Observation files (docs/ARCHITECTURE.md contract 3.3): the measured ξ, ω, η that a fit compares with the
emulator.

Usage::

    obs = read_observation("data.h5")                 # checks bins, shapes, finiteness, covariance
    obs = obs.select(("xi", "omega"))                  # InputError when a statistic is missing
    obs = obs.select_range(0.1, 14.0)                  # the bins inside 0.1..14 Mpc/h, covariance sub-block

Layout: ``/r`` (B,) comoving Mpc/h, optional ``/r_edges`` (B+1,); ``/xi /omega /eta`` (B,) any non-empty
subset (dimensionless); the covariance as ``/cov`` (K, K) over the present statistics concatenated in the
order xi, omega, eta, or ``/cov_xi`` ... (B, B) per statistic, or ``/err_xi`` ... (B,) standard deviations.
Root attributes ``source``, ``sample``, ``redshift`` are optional and echoed into a fit's outputs;
``jackknife`` (an integer) says the covariance was estimated from that many jackknife sub-volumes, so that a
fit can correct its inverse (:mod:`inference.ia.likelihood`). How the emulator's bins map onto these:
:mod:`inference.ia.binning`; building the file from tables or ``.npy`` vectors:
:mod:`inference.ia.observation_import`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np
from scipy.linalg import block_diag

from catalogs.mocks.correlations import STATISTICS
from common.atomic import atomic_file
from common.errors import InputError
from common.hdf5 import numeric_dataset
from inference.ia.binning import describe_bins, outside

ATTRS = ("source", "sample", "redshift")


def check_stats(stats: tuple[str, ...] | list[str], name: str = "--stats") -> None:
    """InputError naming ``name`` unless ``stats`` is a non-empty subset of xi, omega, eta without repeats."""
    unknown = [s for s in stats if s not in STATISTICS]
    if unknown or not stats or len(set(stats)) < len(stats):
        raise InputError(f"{name}: {','.join(unknown or stats) or '(empty)'}: expected a subset of "
                         f"{','.join(STATISTICS)}, each once")


@dataclass(frozen=True)
class Observation:
    """A measured data vector: ``values[stat]`` (B,) at radii ``r`` (B,) Mpc/h, joint covariance ``cov``."""

    r: np.ndarray
    values: dict[str, np.ndarray]
    cov: np.ndarray
    r_edges: np.ndarray | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    name: str = "<observation>"
    jackknife: int | None = None  # sub-volumes behind a jackknife covariance; None: not a jackknife estimate

    def __post_init__(self) -> None:
        _check(self)

    @property
    def statistics(self) -> tuple[str, ...]:
        """The present statistics, in the contract's order (xi, omega, eta)."""
        return tuple(s for s in STATISTICS if s in self.values)

    def data_vector(self) -> np.ndarray:
        """The present statistics concatenated in the order of :attr:`statistics`, shape (K,)."""
        return np.concatenate([self.values[s] for s in self.statistics])

    def select(self, stats: tuple[str, ...] | list[str]) -> Observation:
        """The sub-observation with only ``stats``; InputError naming any statistic that is missing."""
        check_stats(stats)
        missing = [s for s in stats if s not in self.values]
        if missing:
            raise InputError(
                f"{self.name}: /{missing[0]}: missing; the fit uses {','.join(stats)} but the file has "
                f"{','.join(self.statistics)} (choose with --stats)"
            )
        keep = [s for s in self.statistics if s in stats]
        nb = len(self.r)
        idx = np.concatenate([np.arange(nb) + nb * self.statistics.index(s) for s in keep])
        return replace(self, values={s: self.values[s] for s in keep}, cov=self.cov[np.ix_(idx, idx)])

    def select_range(self, r_min: float, r_max: float) -> Observation:
        """The bins inside [r_min, r_max] Mpc/h (by their edges when known, else their centres) with the
        covariance's sub-block; InputError when none is."""
        dropped = outside(self.r, self.r_edges, r_min, r_max)
        keep = np.array([i for i in range(self.r.size) if i not in dropped], dtype=int)
        if not r_min < r_max or keep.size == 0:
            raise InputError(
                f"{self.name}: /r: the range {r_min:g}..{r_max:g} Mpc/h selects no bin of "
                f"{describe_bins(self.r, self.r_edges)}"
            )
        nb = self.r.size
        idx = np.concatenate([keep + nb * k for k in range(len(self.statistics))])
        edges = None if self.r_edges is None else np.append(self.r_edges[keep], self.r_edges[keep[-1] + 1])
        if edges is not None and np.any(np.diff(keep) != 1):
            raise InputError(f"{self.name}: /r: {r_min:g}..{r_max:g} Mpc/h must select adjacent bins")
        return replace(
            self,
            r=self.r[keep],
            values={s: v[keep] for s, v in self.values.items()},
            cov=self.cov[np.ix_(idx, idx)],
            r_edges=edges,
        )

    def digest(self) -> str:
        """SHA-256 of the bins, values and covariance (recorded in a fit's summary.json)."""
        h = hashlib.sha256()
        for array in (self.r, *(self.values[s] for s in self.statistics), self.cov):
            h.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        h.update(",".join(self.statistics).encode())
        return h.hexdigest()


def _check(obs: Observation) -> None:
    name = obs.name
    r = obs.r
    if r.ndim != 1 or r.size < 1 or not np.all(np.isfinite(r)) or np.any(r <= 0) or np.any(np.diff(r) <= 0):
        raise InputError(f"{name}: /r: expected finite, positive, strictly increasing radii (Mpc/h)")
    if obs.r_edges is not None:
        e = obs.r_edges
        if e.shape != (r.size + 1,) or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
            raise InputError(f"{name}: /r_edges: expected {r.size + 1} finite increasing edges (Mpc/h)")
        if np.any(r < e[:-1]) or np.any(r > e[1:]):
            raise InputError(f"{name}: /r: every centre must lie inside its bin of /r_edges")
    if not obs.values:
        raise InputError(f"{name}: expected at least one of /xi, /omega, /eta")
    points = r.size * len(obs.values)
    if obs.jackknife is not None and not obs.jackknife > points + 2:
        raise InputError(
            f"{name}: jackknife: {obs.jackknife} sub-volumes for {points} data points; an inverse covariance "
            f"needs more than {points + 2} (Hartlap et al. 2007)"
        )
    for s, v in obs.values.items():
        if s not in STATISTICS:
            raise InputError(f"{name}: /{s}: unknown statistic (expected xi, omega or eta)")
        if v.shape != r.shape:
            raise InputError(f"{name}: /{s}: expected shape {r.shape} like /r, got {v.shape}")
        if not np.all(np.isfinite(v)):
            raise InputError(f"{name}: /{s}: contains NaN or infinite values")
    k = r.size * len(obs.values)
    cov = obs.cov
    if cov.shape != (k, k):
        raise InputError(
            f"{name}: /cov: expected shape ({k}, {k}) for {','.join(obs.statistics)}, got {cov.shape}"
        )
    if not np.all(np.isfinite(cov)):
        raise InputError(f"{name}: /cov: contains NaN or infinite values")
    if not np.allclose(cov, cov.T, rtol=1e-8, atol=0.0):
        raise InputError(f"{name}: /cov: expected a symmetric matrix")
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise InputError(f"{name}: /cov: expected a positive-definite covariance") from None


def read_observation(path: str | Path) -> Observation:
    """Read and check an observation file (contract 3.3); InputError names the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such observation file")
    try:
        with h5py.File(path, "r") as f:
            r = numeric_dataset(f, path, "r", "missing (radial bin centres, Mpc/h)")
            edges = numeric_dataset(f, path, "r_edges") if "r_edges" in f else None
            values = {s: numeric_dataset(f, path, s) for s in STATISTICS if s in f}
            stats = [s for s in STATISTICS if s in values]
            cov = _read_cov(f, path, stats, r.size)
            attrs = {a: str(f.attrs[a]) for a in ATTRS if a in f.attrs}
            jackknife = _jackknife(f.attrs.get("jackknife"), path)
    except OSError as err:
        raise InputError(f"{path}: not a readable HDF5 file ({err})") from None
    return Observation(r, values, cov, edges, attrs, str(path), jackknife)


def _jackknife(value: object, path: Path) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{path}: jackknife: expected an integer number of sub-volumes, got {value!r}")
    return int(value)


def _read_cov(f: h5py.File, path: Path, stats: list[str], nb: int) -> np.ndarray:
    if "cov" in f:
        return numeric_dataset(f, path, "cov")
    blocks = []
    for s in stats:
        if f"cov_{s}" in f:
            block = numeric_dataset(f, path, f"cov_{s}")
            if block.shape != (nb, nb):
                raise InputError(f"{path}: /cov_{s}: expected shape ({nb}, {nb}), got {block.shape}")
        elif f"err_{s}" in f:
            err = numeric_dataset(f, path, f"err_{s}")
            if err.shape != (nb,) or not np.all(np.isfinite(err)) or np.any(err <= 0):
                raise InputError(f"{path}: /err_{s}: expected {nb} finite positive standard deviations")
            block = np.diag(err**2)
        else:
            raise InputError(f"{path}: /{s}: no covariance (expected /cov, /cov_{s} or /err_{s})")
        blocks.append(block)
    return block_diag(*blocks) if blocks else np.zeros((0, 0))


def write_observation(obs: Observation, path: str | Path) -> Path:
    """Write ``obs`` atomically as contract 3.3 (joint ``/cov``); return the path."""
    path = Path(path)
    with atomic_file(path) as tmp, h5py.File(tmp, "w") as f:
        f["r"] = obs.r
        if obs.r_edges is not None:
            f["r_edges"] = obs.r_edges
        for s in obs.statistics:
            f[s] = obs.values[s]
        f["cov"] = obs.cov
        for key, value in obs.attrs.items():
            f.attrs[key] = value
        if obs.jackknife is not None:
            f.attrs["jackknife"] = obs.jackknife
    return path
