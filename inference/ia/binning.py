"""How an emulator prediction on its own radial bins becomes a prediction on an observation's bins.

Three rules (docs/ARCHITECTURE.md 2 and 3.3), chosen by :func:`bin_mapping` in this order:

- ``rebin``, exact, whenever every edge of the observation is an edge of the emulator: a coarse bin's value
  is the pair-weighted average of the fine bins it holds, as if the pairs had been counted in the coarse bin.
  With the natural estimator and analytic randoms, RR ∝ shell volume V_j = r_{j+1}³ − r_j³, so
  ξ_coarse = Σ V_j ξ_j / Σ V_j; ω and η are averages over pairs, and the pairs number DD_j ∝ V_j (1 + ξ_j),
  so ω_coarse = Σ V_j (1 + ξ_j) ω_j / Σ V_j (1 + ξ_j) (η likewise).
- ``overlap``, when the edges differ: the same pair-weighted average with each fine bin weighted by the part
  of its shell volume that lies inside the coarse bin, as if the statistic were flat within a fine bin; used
  only where it gets the shell averages of ξ ∝ r^-1.8 right to 1.5%. From 0.06 dex bins (the TNG bins
  refined by 3) it maps IAEmu's 0.11 dex bins (1.0%) and the 19-bin 0.126 dex ones (0.75%); from IAEmu's
  bins onto TNG's 0.18 dex ones it would miss by 4.1% and is refused (docs/ARCHITECTURE.md 3.3).
- ``interpolate``, only when asked for: linear interpolation in log r at the observation's centres.

None extrapolates: a bin outside the emulator's range is refused by name (select bins with
:meth:`inference.ia.observations.Observation.select_range`). Radii in comoving Mpc/h.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from common.errors import InputError

BIN_RTOL = 1e-3  # tables print r with 4-5 significant digits
REFERENCE_SLOPE = 1.8  # a galaxy ξ(r) ∝ r^-1.8: the shape an overlap map is checked on
OVERLAP_BIAS = 0.015  # the most an overlap map may miss that ξ's exact shell averages by (relative)
MapKind = Literal["rebin", "overlap", "interpolate"]


@dataclass(frozen=True)
class BinMap:
    """The map from emulator bins (B_emu) to observation bins (B_obs).

    ``matrix`` (B_obs, B_emu): for ``rebin`` and ``overlap`` the shell volume of each fine bin inside each
    coarse one (zero elsewhere), for ``interpolate`` the log-r interpolation weights.
    """

    kind: MapKind
    matrix: np.ndarray

    def weights(self, statistic: str, xi_fine: Any = None) -> Any:
        """The (B_obs, B_emu) weights for ``statistic``; ω and η are pair-weighted with the emulator's ξ on
        its own bins, ``xi_fine`` (B_emu,). A JAX ``xi_fine`` gives JAX weights that follow it (inside a
        likelihood); otherwise they are numpy float64."""
        xp = jnp if isinstance(xi_fine, jax.Array) else np
        w = xp.asarray(self.matrix)
        if self.kind == "interpolate":
            return w
        if statistic != "xi":
            w = w * (1.0 + xp.asarray(xi_fine))[None, :]
        return w / xp.sum(w, axis=1, keepdims=True)

    def describe(self) -> str:
        """One phrase for summaries and the terminal."""
        if self.kind == "rebin":
            return "pair-weighted averages of the emulator's bins (the observation's edges are among them)"
        if self.kind == "overlap":
            return ("pair-weighted averages of the emulator's bins by the shell volume inside each bin "
                    f"(within {OVERLAP_BIAS:.1%} of exact for a power-law ξ)")
        return "interpolated in log r at the observation's radii (its bins are not unions of the emulator's)"


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


def rebin_matrix(obs_edges: np.ndarray, emu_edges: np.ndarray) -> np.ndarray | None:
    """(B_obs, B_emu) shell volumes of the fine bins inside each coarse bin, or None unless every
    observation edge is an emulator edge (to :data:`BIN_RTOL`)."""
    index = []
    for edge in obs_edges:
        close = np.flatnonzero(np.isclose(emu_edges, edge, rtol=BIN_RTOL, atol=0.0))
        if close.size != 1:
            return None
        index.append(int(close[0]))
    volume = emu_edges[1:] ** 3 - emu_edges[:-1] ** 3
    matrix = np.zeros((len(obs_edges) - 1, len(emu_edges) - 1))
    for i, (a, b) in enumerate(zip(index[:-1], index[1:], strict=True)):
        matrix[i, a:b] = volume[a:b]
    return matrix


def power_law_shell_means(edges: np.ndarray, slope: float = REFERENCE_SLOPE) -> np.ndarray:
    """The volume average of r^-slope over each shell (r_k, r_k+1] (edges in Mpc/h), in closed form."""
    a, b, g = edges[:-1], edges[1:], 3.0 - slope
    return 3.0 * (b**g - a**g) / (g * (b**3 - a**3))


def overlap_matrix(obs_edges: np.ndarray, emu_edges: np.ndarray) -> np.ndarray | None:
    """(B_obs, B_emu) shell volume of each emulator bin inside each observation bin, or None when that map
    misses the exact shell averages of a power law ξ ∝ r^-1.8 by more than :data:`OVERLAP_BIAS` (a flat value
    stands for each fine bin, so coarse bins that cut fine ones far from their edges are refused)."""
    lo = np.maximum(obs_edges[:-1, None], emu_edges[None, :-1])
    hi = np.minimum(obs_edges[1:, None], emu_edges[None, 1:])
    matrix = np.where(hi > lo, hi**3 - lo**3, 0.0)
    mapped = matrix @ power_law_shell_means(emu_edges) / matrix.sum(axis=1)
    if np.max(np.abs(mapped / power_law_shell_means(obs_edges) - 1.0)) > OVERLAP_BIAS:
        return None
    return matrix


def outside(r: np.ndarray, edges: np.ndarray | None, lo: float, hi: float) -> list[int]:
    """Indices of the bins not inside [lo, hi] Mpc/h (by their edges when given, else their centres)."""
    low, high = (edges[:-1], edges[1:]) if edges is not None else (r, r)
    return [i for i in range(len(r)) if low[i] < lo * (1 - BIN_RTOL) or high[i] > hi * (1 + BIN_RTOL)]


def name_bins(r: np.ndarray, index: list[int]) -> str:
    """``bins 13, 14 (r = 17.4, 26.3 Mpc/h)``: 1-based bin numbers and their centres."""
    numbers = ", ".join(str(i + 1) for i in index)
    radii = ", ".join(f"{r[i]:.3g}" for i in index)
    return f"bin{'s' if len(index) > 1 else ''} {numbers} (r = {radii} Mpc/h)"


def bin_mapping(
    obs: Any,
    emu_r: np.ndarray,
    emu_edges: np.ndarray | None,
    *,
    interpolate: bool,
    emulator_name: str = "emulator",
) -> BinMap | None:
    """How ``obs`` (an :class:`~inference.ia.observations.Observation`) is predicted from the emulator's
    bins: None when the bins agree, else a :class:`BinMap` (the rules in the module docstring).

    InputError when a bin lies outside the emulator's range, naming the bins; when bins differ and can be
    neither rebinned nor overlapped, unless ``interpolate`` (naming both binnings).
    """
    if same_bins(obs.r, obs.r_edges, emu_r, emu_edges):
        return None
    both = (
        f"{obs.name} has {describe_bins(obs.r, obs.r_edges)}; "
        f"{emulator_name} has {describe_bins(emu_r, emu_edges)}"
    )
    span = (emu_edges[0], emu_edges[-1]) if emu_edges is not None else (emu_r[0], emu_r[-1])
    out = outside(obs.r, obs.r_edges, *span)
    hint = (
        f"; {name_bins(obs.r, out)} lie outside the emulator's {span[0]:.4g}..{span[1]:.4g} Mpc/h: "
        "select the bins inside with --r-range RMIN RMAX"
        if out
        else ""
    )
    if obs.r_edges is not None and emu_edges is not None and not out:
        matrix = rebin_matrix(obs.r_edges, emu_edges)
        if matrix is not None:
            return BinMap("rebin", matrix)
        matrix = overlap_matrix(obs.r_edges, emu_edges)
        if matrix is not None:
            return BinMap("overlap", matrix)
    if not interpolate:
        raise InputError(
            f"{obs.name}: /r: bins differ from the emulator's: {both} (use --interpolate to "
            f"interpolate the emulator onto the observation's radii){hint}"
        )
    centres_out = outside(obs.r, None, emu_r[0], emu_r[-1])
    if centres_out:
        raise InputError(
            f"{obs.name}: /r: outside the emulator's radii, no extrapolation: {both}; "
            f"{name_bins(obs.r, centres_out)}: select the bins inside with --r-range RMIN RMAX"
        )
    log_emu = np.log(emu_r)
    log_obs = np.clip(np.log(obs.r), log_emu[0], log_emu[-1])
    eye = np.eye(emu_r.size)
    weights = np.stack([np.interp(log_obs, log_emu, eye[j]) for j in range(emu_r.size)], axis=1)
    return BinMap("interpolate", weights)
