"""The three statistics of a mock (docs/ARCHITECTURE.md 4.1) in a periodic box, in one pass over the pairs.

ξ(r) is halotools' ``tpcf`` (natural estimator, analytic randoms), ω(r) its ``ed_3d`` (⟨|ê_i·r̂_ij|²⟩ − 1/3)
and η(r) its ``ee_3d`` (⟨|ê_i·ê_j|²⟩ − 1/3), with their definitions: ordered pairs i ≠ j of all galaxies at
minimum-image separations in bins (r_k, r_k+1], NaN ω and η in an empty bin. Separations in comoving Mpc/h.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial.distance import cdist

from common.errors import InputError

STATISTICS: tuple[str, ...] = ("xi", "omega", "eta")

_SLOTS = 1 << 16  # pairs per dense block: a few arrays of 512 kB, near the cache, and BLAS on one thread


def default_r_edges() -> np.ndarray:
    """IAEmu's bin edges: ``logspace(-1, 1.2, 21)`` Mpc/h (20 bins)."""
    return np.logspace(-1.0, 1.2, 21)


MAX_EDGES = 10_000


def logspace_edges(spec: object, where: str = "r_edges") -> np.ndarray:
    """``numpy.logspace(lo, hi, n)`` from a spec ``[lo, hi, n]`` (log10 of Mpc/h, n edges: an integer from 2
    to 10,000); the form a config (``{logspace: [lo, hi, n]}``) and ``--r-edges logspace(lo, hi, n)``
    share."""
    expected = (f"{where}: expected logspace [lo, hi, n] with numbers lo < hi and an integer n of "
                f"2..{MAX_EDGES}")
    if not isinstance(spec, list | tuple) or len(spec) != 3:
        raise InputError(expected)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in spec):
        raise InputError(expected)
    lo, hi, n = (float(v) for v in spec)
    if not (lo < hi and n.is_integer() and 2 <= n <= MAX_EDGES):
        raise InputError(expected)
    return np.logspace(lo, hi, int(n))


def r_centres(r_edges: np.ndarray) -> np.ndarray:
    """Bin centres: the arithmetic mean of consecutive edges (Mpc/h)."""
    r_edges = np.asarray(r_edges, dtype=float)
    return 0.5 * (r_edges[1:] + r_edges[:-1])


ESTIMATOR_LIMIT = 3  # pairs are counted at minimum image: separations below Lbox/3 (halotools' limit)
# a mock dataset's bins end below Lbox/4: beyond, the box lacks the modes that set ξ (docs/ARCHITECTURE.md 2)
MOCK_LIMIT = 4


def check_r_edges(r_edges: Sequence[float], Lbox: float | None = None, where: str = "r_edges",
                  limit: int = ESTIMATOR_LIMIT) -> np.ndarray:
    """Validated edges (Mpc/h): at least 2, positive, strictly increasing, the last below Lbox/`limit`."""
    try:
        edges = np.asarray(r_edges, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"{where}: expected a list of numbers (Mpc/h)") from err
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)):
        raise InputError(f"{where}: expected at least 2 finite bin edges (Mpc/h)")
    if edges[0] <= 0 or np.any(np.diff(edges) <= 0):
        raise InputError(f"{where}: expected positive, strictly increasing bin edges (Mpc/h)")
    if Lbox is not None and edges[-1] >= Lbox / limit:
        raise InputError(
            f"{where}: largest edge {edges[-1]:g} Mpc/h must be below Lbox/{limit} = {Lbox / limit:g} Mpc/h "
            "of the halo catalog (set r_edges in the config)"
        )
    return edges


def galaxy_arrays(galaxy_table) -> tuple[np.ndarray, np.ndarray]:
    """Positions (N, 3) in Mpc/h and unit major axes (N, 3) of a populated mock's galaxy table."""
    pos = np.stack([np.asarray(galaxy_table[c], dtype=float) for c in "xyz"], axis=1)
    axes = np.stack([np.asarray(galaxy_table[f"galaxy_axisA_{c}"], dtype=float) for c in "xyz"], axis=1)
    return pos, axes


def _block_sums(
    p: np.ndarray, e: np.ndarray, q: np.ndarray, f: np.ndarray, edges2: np.ndarray, n_own: int
) -> np.ndarray:
    """(count, Σ(|ê_i·r̂|² + |f̂_j·r̂|²), Σ|ê_i·f̂_j|²) per ``searchsorted(edges2, r²)`` (index 0: r ≤ the
    first edge) over pairs (p_i, q_j) with r ≤ the last edge; `p`, `q` (N, 3) positions (Mpc/h) from a point
    nearby (so that the products below keep their precision), `e`, `f` unit axes. The first `n_own` of
    `q` are `p` itself: of those pairs only j > i counts."""
    sums = np.zeros((3, len(edges2)))
    ep, fq = np.einsum("ij,ij->i", e, p), np.einsum("ij,ij->i", f, q)
    rows = max(1, _SLOTS // len(q))
    for start in range(0, len(p), rows):
        pa, ea = p[start : start + rows], e[start : start + rows]
        r2 = cdist(pa, q, "sqeuclidean")
        if start < n_own:  # the cell with itself: each pair once, no point with itself
            r2[:, :n_own][np.arange(start, start + len(pa))[:, None] >= np.arange(n_own)] = np.inf
        near = np.flatnonzero(r2 <= edges2[-1])
        i, j = np.divmod(near, len(q))
        # ê_i·(q_j − p_i), f̂_j·(q_j − p_i) and ê_i·f̂_j from products of small matrices, read at the pairs kept
        ui = np.take(ea @ q.T, near) - ep[start + i]
        uj = fq[j] - np.take(pa @ f.T, near)
        ee = np.take(ea @ f.T, near)
        r2 = np.take(r2, near)
        k = np.searchsorted(edges2, r2)
        sums[0] += np.bincount(k, minlength=len(edges2))
        with np.errstate(invalid="ignore", divide="ignore"):  # r = 0: two points at one place, index 0
            sums[1] += np.bincount(k, (ui * ui + uj * uj) / r2, minlength=len(edges2))
        sums[2] += np.bincount(k, ee * ee, minlength=len(edges2))
    return sums


def _pair_sums(pos: np.ndarray, axes: np.ndarray, r_edges: np.ndarray, Lbox: float) -> np.ndarray:
    """Per bin (r_k, r_k+1] of minimum-image separation, over unordered pairs of distinct points: (count,
    Σ(|ê_i·r̂|² + |ê_j·r̂|²), Σ|ê_i·ê_j|²), shape (3, len(r_edges) - 1).

    `pos` (N, 3) in Mpc/h, `axes` (N, 3) unit vectors, `r_edges` (Mpc/h) with the last below Lbox/2, `Lbox`
    (Mpc/h). A cell list: cells at least r_max/3 wide (and about 4 points or more each); each cell's points
    against those of the cell and of half its neighbours within r_max (one of each ±offset, at the image that
    offset reaches), so every pair is met once, in dense blocks of at most ``_SLOTS`` pairs (small memory).
    """
    r_max = float(r_edges[-1])
    m = max(1, min(int(3 * Lbox / r_max), round(np.cbrt(len(pos) / 4))))  # cells per side
    size = Lbox / m
    reach = int(np.ceil(r_max / size * (1 + 1e-9)))  # in cells; the margins cover rounding at cell faces
    steps = np.arange(-reach, reach + 1)
    offsets = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), -1).reshape(-1, 3)
    offsets = offsets[len(offsets) // 2 + 1 :]  # lexicographically after (0, 0, 0)
    gap = np.maximum(np.abs(offsets) - 1, 0) * size
    offsets = offsets[np.sum(gap * gap, axis=1) <= r_max * r_max * (1 + 1e-9)]

    pos = np.mod(pos, Lbox)
    cell = np.minimum((pos // size).astype(np.int64), m - 1)
    flat = np.ravel_multi_index(cell.T, (m, m, m))
    order = np.argsort(flat, kind="stable")
    pos, axes, cell = pos[order], axes[order], cell[order]
    starts = np.searchsorted(flat[order], np.arange(m**3 + 1))

    edges2 = np.asarray(r_edges, dtype=float) ** 2
    sums = np.zeros((3, len(edges2)))
    for a in np.flatnonzero(np.diff(starts)):
        here = cell[starts[a]]
        nbrs = here + offsets
        b = np.concatenate([[a], np.ravel_multi_index((nbrs % m).T, (m, m, m))])
        first, count = starts[b], starts[b + 1] - starts[b]
        idx = np.arange(count.sum()) + np.repeat(first - np.cumsum(count) + count, count)
        # positions from the cell's centre, neighbours at the image their offset reaches
        shift = np.vstack([np.zeros(3), nbrs // m * Lbox]) - (here + 0.5) * size
        images = pos[idx] + np.repeat(shift, count, axis=0)
        sums += _block_sums(images[: count[0]], axes[idx[: count[0]]], images, axes[idx], edges2, count[0])
    return sums[:, 1:]


def measure(pos: np.ndarray, axes: np.ndarray, r_edges: np.ndarray, Lbox: float) -> dict[str, np.ndarray]:
    """ξ, ω, η of one mock on all galaxies (auto-correlations), each of shape (len(r_edges) - 1,).

    `pos` (N, 3) in Mpc/h in the periodic box of side `Lbox` (Mpc/h), `axes` (N, 3) major axes of any
    length but 0 (normalised here, as halotools does), `r_edges` (Mpc/h) as :func:`check_r_edges` takes them.
    """
    r_edges = check_r_edges(r_edges, Lbox)
    pos, axes = np.asarray(pos, dtype=float), np.asarray(axes, dtype=float)
    length = np.sqrt(np.sum(axes**2, axis=1, keepdims=True))
    if np.any(length == 0):
        raise InputError("axes: a galaxy has a major axis of length 0")
    count, ed, ee = _pair_sums(pos, axes / length, r_edges, Lbox)
    n = len(pos)
    shell = np.diff(4 / 3 * np.pi * r_edges**3)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "xi": 2 * count / (n * n * shell / Lbox**3) - 1,
            "omega": ed / (2 * count) - 1 / 3,
            "eta": ee / count - 1 / 3,
        }
