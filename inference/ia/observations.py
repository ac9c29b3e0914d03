"""Observation files (docs/ARCHITECTURE.md contract 3.3): the measured ξ, ω, η that a fit compares with the
emulator.

Usage::

    obs = read_observation("data.h5")                 # checks bins, shapes, finiteness, covariance
    obs = obs.select(("xi", "omega"))                  # InputError when a statistic is missing
    W = bin_mapping(obs, emu_r, emu_r_edges, interpolate=False)   # None when the bins agree

Layout: ``/r`` (B,) comoving Mpc/h, optional ``/r_edges`` (B+1,); ``/xi /omega /eta`` (B,) any non-empty
subset (dimensionless); the covariance as ``/cov`` (K, K) over the present statistics concatenated in the
order xi, omega, eta, or ``/cov_xi`` ... (B, B) per statistic, or ``/err_xi`` ... (B,) standard deviations.
Root attributes ``source``, ``sample``, ``redshift`` are optional and echoed into a fit's outputs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
from scipy.linalg import block_diag

from catalogs.mocks.correlations import STATISTICS
from common.atomic import atomic_file
from common.errors import InputError

ATTRS = ("source", "sample", "redshift")
BIN_RTOL = 1e-3  # tables print r with 4-5 significant digits


@dataclass(frozen=True)
class Observation:
    """A measured data vector: ``values[stat]`` (B,) at radii ``r`` (B,) Mpc/h, joint covariance ``cov``."""

    r: np.ndarray
    values: dict[str, np.ndarray]
    cov: np.ndarray
    r_edges: np.ndarray | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    name: str = "<observation>"

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
        unknown = [s for s in stats if s not in STATISTICS]
        if unknown or not stats:
            raise InputError(f"--stats: {','.join(unknown) or '(empty)'}: expected a subset of xi,omega,eta")
        missing = [s for s in stats if s not in self.values]
        if missing:
            raise InputError(
                f"{self.name}: /{missing[0]}: missing; the fit uses {','.join(stats)} but the file has "
                f"{','.join(self.statistics)} (choose with --stats)"
            )
        keep = [s for s in self.statistics if s in stats]
        nb = len(self.r)
        idx = np.concatenate([np.arange(nb) + nb * self.statistics.index(s) for s in keep])
        return Observation(
            self.r,
            {s: self.values[s] for s in keep},
            self.cov[np.ix_(idx, idx)],
            self.r_edges,
            self.attrs,
            self.name,
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
            if "r" not in f:
                raise InputError(f"{path}: /r: missing (radial bin centres, Mpc/h)")
            r = np.asarray(f["r"][()], dtype=np.float64)
            edges = np.asarray(f["r_edges"][()], dtype=np.float64) if "r_edges" in f else None
            values = {s: np.asarray(f[s][()], dtype=np.float64) for s in STATISTICS if s in f}
            stats = [s for s in STATISTICS if s in values]
            cov = _read_cov(f, path, stats, r.size)
            attrs = {a: str(f.attrs[a]) for a in ATTRS if a in f.attrs}
    except OSError as err:
        raise InputError(f"{path}: not a readable HDF5 file ({err})") from None
    return Observation(r, values, cov, edges, attrs, str(path))


def _read_cov(f: h5py.File, path: Path, stats: list[str], nb: int) -> np.ndarray:
    if "cov" in f:
        return np.asarray(f["cov"][()], dtype=np.float64)
    blocks = []
    for s in stats:
        if f"cov_{s}" in f:
            block = np.asarray(f[f"cov_{s}"][()], dtype=np.float64)
            if block.shape != (nb, nb):
                raise InputError(f"{path}: /cov_{s}: expected shape ({nb}, {nb}), got {block.shape}")
        elif f"err_{s}" in f:
            err = np.asarray(f[f"err_{s}"][()], dtype=np.float64)
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
    return path


def describe_bins(r: np.ndarray, edges: np.ndarray | None = None) -> str:
    """A one-phrase description of a binning, e.g. ``20 bins, r = 0.1127..14.15 Mpc/h``."""
    text = f"{len(r)} bins, r = {r[0]:.4g}..{r[-1]:.4g} Mpc/h"
    return text + (f" (edges {edges[0]:.4g}..{edges[-1]:.4g})" if edges is not None else "")


def same_bins(
    r_a: np.ndarray, edges_a: np.ndarray | None, r_b: np.ndarray, edges_b: np.ndarray | None
) -> bool:
    """True when two binnings agree to :data:`BIN_RTOL` (centres, and edges where both have them)."""
    if r_a.shape != r_b.shape or not np.allclose(r_a, r_b, rtol=BIN_RTOL, atol=0.0):
        return False
    return (
        edges_a is None
        or edges_b is None
        or (edges_a.shape == edges_b.shape and np.allclose(edges_a, edges_b, rtol=BIN_RTOL, atol=0.0))
    )


def bin_mapping(
    obs: Observation,
    emu_r: np.ndarray,
    emu_edges: np.ndarray | None,
    *,
    interpolate: bool,
    emulator_name: str = "emulator",
) -> np.ndarray | None:
    """The (B_obs, B_emu) matrix taking an emulator prediction to the observation's radii, None when equal.

    Bins that differ are refused (InputError naming both binnings) unless ``interpolate``: then the
    prediction is interpolated linearly in log r, never extrapolated outside the emulator's radii.
    """
    if same_bins(obs.r, obs.r_edges, emu_r, emu_edges):
        return None
    both = (
        f"{obs.name} has {describe_bins(obs.r, obs.r_edges)}; "
        f"{emulator_name} has {describe_bins(emu_r, emu_edges)}"
    )
    if not interpolate:
        raise InputError(
            f"{obs.name}: /r: bins differ from the emulator's: {both} (use --interpolate to "
            "interpolate the emulator onto the observation's radii)"
        )
    if obs.r[0] < emu_r[0] * (1 - BIN_RTOL) or obs.r[-1] > emu_r[-1] * (1 + BIN_RTOL):
        raise InputError(f"{obs.name}: /r: outside the emulator's radii, no extrapolation: {both}")
    log_emu = np.log(emu_r)
    log_obs = np.clip(np.log(obs.r), log_emu[0], log_emu[-1])
    eye = np.eye(emu_r.size)
    return np.stack([np.interp(log_obs, log_emu, eye[j]) for j in range(emu_r.size)], axis=1)


TABLE_COLUMNS = {"xi": "xi", "omega": "ed", "eta": "ee"}  # header names in shared tables: ed = ω, ee = η


def read_table(path: str | Path, stat: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a table with header ``r <col> err`` (col xi, ed or ee): r (Mpc/h), value, err."""
    path = Path(path)
    try:
        lines = [line.strip() for line in path.read_text().splitlines()]
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read the table ({err})") from None
    lines = [line for line in lines if line]
    expected = ["r", TABLE_COLUMNS[stat], "err"]
    if not lines or [w.lower() for w in lines[0].lstrip("#").split()] != expected:
        raise InputError(f"{path}: header: expected the line '{' '.join(expected)}'")
    rows = [line.split() for line in lines[1:] if not line.startswith("#")]
    try:
        table = np.array([[float(x) for x in row] for row in rows if len(row) == 3], dtype=np.float64)
    except ValueError:
        raise InputError(f"{path}: expected numbers in every row") from None
    if len(table) != len(rows) or len(rows) == 0:
        raise InputError(f"{path}: expected rows of 3 numbers (r {TABLE_COLUMNS[stat]} err)")
    if not np.all(np.isfinite(table)):
        raise InputError(f"{path}: contains NaN or infinite values")
    if np.any(table[:, 2] <= 0):
        raise InputError(f"{path}: err: expected positive standard deviations")
    return table[:, 0], table[:, 1], table[:, 2]


def import_tables(
    tables: dict[str, str | Path],
    covs: list[str] | None = None,
    *,
    out: str | Path,
    attrs: dict[str, str] | None = None,
) -> Observation:
    """Build an observation from text tables (``tables[stat] = path``) and write it atomically to ``out``.

    ``covs``: none (diagonal covariance from the err columns); one ``FILE.npy`` of shape (K, K) for all
    statistics (order xi, omega, eta); or one per statistic, ``FILE.npy`` in the order xi, omega, eta of the
    tables given or ``stat=FILE.npy``, each (B, B), the err column used for any statistic without one. Where
    a covariance is given, its diagonal must agree with err² (within 5% in err) to catch swapped files.
    """
    stats = [s for s in STATISTICS if s in tables]
    if not stats:
        raise InputError("observation import: expected at least one table (--xi, --omega, --eta)")
    r, values, errs = None, {}, {}
    for s in stats:
        r_s, values[s], errs[s] = read_table(tables[s], s)
        if r is None:
            r, first = r_s, tables[s]
        elif r_s.shape != r.shape or not np.allclose(r_s, r, rtol=1e-6, atol=0.0):
            raise InputError(
                f"{tables[s]}: r: differs from {first}: {describe_bins(r_s)} vs {describe_bins(r)}"
            )
    blocks = _cov_blocks(stats, covs or [], r.size)
    if "joint" in blocks:
        cov = blocks["joint"]
    else:
        cov = block_diag(*[blocks.get(s, np.diag(errs[s] ** 2)) for s in stats])
    nb = r.size
    for i, s in enumerate(stats):
        sd = np.sqrt(np.clip(np.diag(cov)[i * nb : (i + 1) * nb], 0, None))
        if not np.allclose(sd, errs[s], rtol=0.05, atol=0.0):
            raise InputError(
                f"{tables[s]}: err: disagrees with the square root of the covariance's diagonal "
                "(is the covariance file the right one for this statistic?)"
            )
    obs = Observation(r, values, cov, None, dict(attrs or {}), str(out))
    write_observation(obs, out)
    return obs


def _cov_blocks(stats: list[str], covs: list[str], nb: int) -> dict[str, np.ndarray]:
    if not covs:
        return {}
    named = [c.partition("=") for c in covs]
    if any(sep for _, sep, _ in named) and not all(sep for _, sep, _ in named):
        raise InputError("--cov: name every file (xi=FILE.npy) or none")
    if len(covs) == 1 and not named[0][1]:
        matrix = _load_npy(covs[0])
        if matrix.shape == (nb * len(stats),) * 2:
            return {"joint": matrix}
    if named and named[0][1]:
        pairs = [(s, p) for s, _, p in named]
    elif len(covs) == len(stats):
        pairs = list(zip(stats, covs, strict=True))
    else:
        k = nb * len(stats)
        raise InputError(
            f"--cov: expected one ({k}, {k}) file or one ({nb}, {nb}) file per table "
            f"({','.join(stats)}), got {len(covs)} file(s)"
        )
    blocks = {}
    for s, p in pairs:
        if s not in stats:
            raise InputError(f"--cov: {s}={p}: no table given for '{s}' (expected one of {','.join(stats)})")
        blocks[s] = _load_npy(p)
        if blocks[s].shape != (nb, nb):
            raise InputError(f"{p}: expected shape ({nb}, {nb}) for {s}, got {blocks[s].shape}")
    return blocks


def _load_npy(path: str) -> np.ndarray:
    try:
        return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable .npy array ({err})") from None
