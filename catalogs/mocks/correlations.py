"""The three statistics of a mock (docs/ARCHITECTURE.md 4.1) with halotools' estimators, in a periodic box.

ξ(r) = ``tpcf`` (natural estimator, analytic randoms), ω(r) = ``ed_3d`` (⟨|ê·r̂|²⟩ − 1/3) and
η(r) = ``ee_3d`` (⟨|ê_i·ê_j|²⟩ − 1/3), on all galaxies. Separations in comoving Mpc/h.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from common.errors import InputError

STATISTICS: tuple[str, ...] = ("xi", "omega", "eta")


def default_r_edges() -> np.ndarray:
    """IAEmu's bin edges: ``logspace(-1, 1.2, 21)`` Mpc/h (20 bins)."""
    return np.logspace(-1.0, 1.2, 21)


def r_centres(r_edges: np.ndarray) -> np.ndarray:
    """Bin centres: the arithmetic mean of consecutive edges (Mpc/h)."""
    r_edges = np.asarray(r_edges, dtype=float)
    return 0.5 * (r_edges[1:] + r_edges[:-1])


def check_r_edges(r_edges: Sequence[float], Lbox: float | None = None, where: str = "r_edges") -> np.ndarray:
    """Validated edges (Mpc/h): at least 2, positive, strictly increasing, below Lbox/3 (halotools' limit)."""
    try:
        edges = np.asarray(r_edges, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputError(f"{where}: expected a list of numbers (Mpc/h)") from err
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)):
        raise InputError(f"{where}: expected at least 2 finite bin edges (Mpc/h)")
    if edges[0] <= 0 or np.any(np.diff(edges) <= 0):
        raise InputError(f"{where}: expected positive, strictly increasing bin edges (Mpc/h)")
    if Lbox is not None and edges[-1] >= Lbox / 3:
        raise InputError(
            f"{where}: largest edge {edges[-1]:g} Mpc/h must be below Lbox/3 = {Lbox / 3:g} Mpc/h of the "
            "halo catalog (set r_edges in the config)"
        )
    return edges


def galaxy_arrays(galaxy_table) -> tuple[np.ndarray, np.ndarray]:
    """Positions (N, 3) in Mpc/h and unit major axes (N, 3) of a populated mock's galaxy table."""
    pos = np.stack([np.asarray(galaxy_table[c], dtype=float) for c in "xyz"], axis=1)
    axes = np.stack([np.asarray(galaxy_table[f"galaxy_axisA_{c}"], dtype=float) for c in "xyz"], axis=1)
    return pos, axes


def xi(pos: np.ndarray, r_edges: np.ndarray, Lbox: float) -> np.ndarray:
    """ξ(r) of the points `pos` (Mpc/h) in a periodic box of side `Lbox` (Mpc/h)."""
    from halotools.mock_observables import tpcf

    return np.asarray(tpcf(pos, r_edges, period=Lbox, num_threads=1), dtype=float)


def omega(
    pos1: np.ndarray, axes1: np.ndarray, pos2: np.ndarray, r_edges: np.ndarray, Lbox: float
) -> np.ndarray:
    """ω(r) = ⟨|ê₁·r̂₁₂|²⟩ − 1/3 over (oriented point of sample 1, point of sample 2) pairs; NaN if none."""
    from halotools.mock_observables import ed_3d

    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(ed_3d(pos1, axes1, pos2, r_edges, period=Lbox, num_threads=1), dtype=float)


def eta(
    pos1: np.ndarray, axes1: np.ndarray, pos2: np.ndarray, axes2: np.ndarray, r_edges: np.ndarray, Lbox: float
) -> np.ndarray:
    """η(r) = ⟨|ê₁·ê₂|²⟩ − 1/3 over pairs of oriented points; NaN if a bin is empty."""
    from halotools.mock_observables import ee_3d

    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(ee_3d(pos1, axes1, pos2, axes2, r_edges, period=Lbox, num_threads=1), dtype=float)


def measure(pos: np.ndarray, axes: np.ndarray, r_edges: np.ndarray, Lbox: float) -> dict[str, np.ndarray]:
    """ξ, ω, η of one mock on all galaxies (auto-correlations), each of shape (len(r_edges) - 1,)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "xi": xi(pos, r_edges, Lbox),
            "omega": omega(pos, axes, pos, r_edges, Lbox),
            "eta": eta(pos, axes, pos, axes, r_edges, Lbox),
        }
