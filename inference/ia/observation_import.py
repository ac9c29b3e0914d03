"""Observation files (docs/ARCHITECTURE.md 3.3) built from published measurements: text tables
``r <stat> err`` or ``.npy`` data vectors with their bin edges, and covariances as ``.npy`` matrices.

Usage::

    obs = import_tables({"omega": "w.npy"}, ["cov.npy"], r_edges=np.logspace(-1, 1.4, 20), jackknife=125,
                        out="tng.h5")
    obs = import_tables({"xi": "xi.dat", "omega": "ed.dat"}, out="tng.h5")   # diagonal covariance from err
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.linalg import block_diag

from catalogs.mocks.correlations import STATISTICS, logspace_edges, r_centres
from common.errors import InputError
from inference.ia.binning import BIN_RTOL, describe_bins
from inference.ia.observations import Observation, write_observation

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
    r_edges: np.ndarray | None = None,
    jackknife: int | None = None,
) -> Observation:
    """Build an observation from measurements (``tables[stat] = path``) and write it atomically to ``out``.

    A path ending in ``.npy`` is a data vector (B,); any other is a text table ``r <col> err``. ``r_edges``
    (B+1,) Mpc/h, required with a vector, gives the bins (centres: arithmetic means of the edges, which a
    table's r must match) so that a fit can rebin the emulator exactly (:mod:`inference.ia.binning`).
    ``covs``: none (diagonal covariance from the err columns; vectors have none); one ``FILE.npy`` of shape
    (K, K) for all statistics (order xi, omega, eta); or one per statistic, ``FILE.npy`` in the order of the
    statistics given or ``stat=FILE.npy``, each (B, B). Where a table's covariance is given, its diagonal must
    agree with err² (within 5% in err) to catch swapped files. ``jackknife``: the number of sub-volumes the
    covariance was estimated from, recorded for the fit's Hartlap or Sellentin–Heavens correction.
    """
    stats = [s for s in STATISTICS if s in tables]
    if not stats:
        raise InputError("observation import: expected at least one measurement (--xi, --omega, --eta)")
    edges = None if r_edges is None else np.asarray(r_edges, dtype=np.float64)
    if edges is not None and (edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges))
                              or np.any(edges <= 0) or np.any(np.diff(edges) <= 0)):
        raise InputError(f"r_edges (--r-edges): expected positive, strictly increasing edges (Mpc/h), got "
                         f"{np.array2string(edges, precision=4)}")
    r = None if edges is None else r_centres(edges)
    values, errs = {}, {}
    for s in stats:
        path = Path(tables[s])
        if path.suffix == ".npy":
            values[s] = _vector(path, r)
            continue
        r_s, values[s], errs[s] = read_table(path, s)
        if r is None:
            r = r_s
        elif r_s.shape != r.shape or not np.allclose(r_s, r, rtol=BIN_RTOL, atol=0.0):
            raise InputError(f"{path}: r: differs from the bins given: {describe_bins(r_s)} vs "
                             f"{describe_bins(r, edges)}")
    blocks = _cov_blocks(stats, covs or [], r.size)
    missing = [s for s in stats if s not in errs and s not in blocks and "joint" not in blocks]
    if missing:
        raise InputError(f"{tables[missing[0]]}: a data vector has no errors: expected a covariance (--cov)")
    if "joint" in blocks:
        cov = blocks["joint"]
    else:
        cov = block_diag(*[blocks[s] if s in blocks else np.diag(errs[s] ** 2) for s in stats])
    nb = r.size
    for i, s in enumerate(stats):
        sd = np.sqrt(np.clip(np.diag(cov)[i * nb : (i + 1) * nb], 0, None))
        if s in errs and not np.allclose(sd, errs[s], rtol=0.05, atol=0.0):
            raise InputError(
                f"{tables[s]}: err: disagrees with the square root of the covariance's diagonal "
                "(is the covariance file the right one for this statistic?)"
            )
    obs = Observation(r, values, cov, edges, dict(attrs or {}), str(out), jackknife)
    write_observation(obs, out)
    return obs


def _vector(path: Path, r: np.ndarray | None) -> np.ndarray:
    if r is None:
        raise InputError(f"{path}: a data vector needs its bins: expected --r-edges")
    vector = _load_npy(str(path))
    if vector.shape != r.shape:
        raise InputError(f"{path}: expected shape ({r.size},) for the {r.size} bins of --r-edges, "
                         f"got {vector.shape}")
    return vector


def _cov_blocks(stats: list[str], covs: list[str], nb: int) -> dict[str, np.ndarray]:
    if not covs:
        return {}
    named = [c.partition("=") for c in covs]
    if any(sep for _, sep, _ in named) and not all(sep for _, sep, _ in named):
        raise InputError("cov: name every file (xi=FILE.npy) or none")
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
            raise InputError(f"cov: {s}={p}: no table given for '{s}' (expected one of {','.join(stats)})")
        blocks[s] = _load_npy(p)
        if blocks[s].shape != (nb, nb):
            raise InputError(f"{p}: expected shape ({nb}, {nb}) for {s}, got {blocks[s].shape}")
    return blocks


def parse_edges(text: str) -> np.ndarray:
    """Bin edges (Mpc/h) from ``EDGES.npy``, comma-separated numbers, or ``logspace(lo, hi, n)`` (numpy's: n
    edges from 10^lo to 10^hi, as the TNG300 tables state theirs); checked by :func:`import_tables`."""
    if text.endswith(".npy"):
        return _load_npy(text)
    spec = text.replace(" ", "")
    logspace = spec.startswith("logspace(") and spec.endswith(")")
    try:
        numbers = [float(x) for x in (spec[len("logspace("):-1] if logspace else spec).split(",")]
    except ValueError:
        raise InputError(f"--r-edges: '{text}': expected EDGES.npy, comma-separated numbers or "
                         "logspace(lo, hi, n)") from None
    if logspace:
        return logspace_edges(numbers, f"--r-edges: '{text}'")
    return np.array(numbers, dtype=np.float64)


def _load_npy(path: str) -> np.ndarray:
    try:
        return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable .npy array ({err})") from None
