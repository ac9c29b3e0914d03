"""The prior of an IA fit: the emulator's parameters split into free ones (uniform on a box, the emulator's
unless narrowed by ``--prior``) and fixed ones (``--fix``), checked against the emulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from common.errors import InputError

if TYPE_CHECKING:
    from emulators.ia.interface import Emulator


@dataclass(frozen=True)
class ParameterSpace:
    """The emulator's parameters split into free ones (sampled, uniform on [lo, hi]) and fixed ones."""

    names: tuple[str, ...]
    lo: np.ndarray  # (P,) prior bounds, the emulator's box unless narrowed
    hi: np.ndarray
    fixed: dict[str, float] = field(default_factory=dict)

    @property
    def free(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if n not in self.fixed)

    @property
    def free_index(self) -> np.ndarray:
        return np.array([self.names.index(n) for n in self.free], dtype=int)

    def full(self, theta_free: jax.Array) -> jax.Array:
        """Free values (F,) or (..., F) -> all P parameters in the emulator's order."""
        theta_free = jnp.asarray(theta_free)
        base = jnp.broadcast_to(
            jnp.asarray([self.fixed.get(n, 0.0) for n in self.names]),
            (*theta_free.shape[:-1], len(self.names)),
        )
        return base.at[..., self.free_index].set(theta_free)

    def check(self, theta_full: np.ndarray, what: str = "parameters") -> None:
        """InputError when a point lies outside the prior box (it is refused, never extrapolated)."""
        theta_full = np.asarray(theta_full, dtype=float)
        outside = [
            f"{n}={v:g} not in [{lo:g}, {hi:g}]"
            for n, v, lo, hi in zip(self.names, theta_full, self.lo, self.hi, strict=True)
            if not lo <= v <= hi
        ]
        if outside:
            raise InputError(f"{what}: outside the prior box: {'; '.join(outside)}")


def parameter_space(
    emulator: Emulator,
    *,
    fix: dict[str, float] | None = None,
    bounds: dict[str, tuple[float, float]] | None = None,
) -> ParameterSpace:
    """Check ``fix`` (NAME -> value) and ``bounds`` (NAME -> (lo, hi) inside the box) for the emulator."""
    names = tuple(emulator.param_names)
    lo, hi = np.array(emulator.prior_lo, dtype=float), np.array(emulator.prior_hi, dtype=float)
    for option, given in (("bounds", bounds or {}), ("fix", fix or {})):
        unknown = [n for n in given if n not in names]
        if unknown:
            raise InputError(
                f"{option}: unknown parameter '{unknown[0]}' (expected one of {', '.join(names)})"
            )
    for name, (b_lo, b_hi) in (bounds or {}).items():
        i = names.index(name)
        if not lo[i] <= b_lo < b_hi <= hi[i]:
            raise InputError(
                f"bounds: {name}: [{b_lo:g}, {b_hi:g}] must be a non-empty range inside the "
                f"emulator's box [{lo[i]:g}, {hi[i]:g}]"
            )
        lo[i], hi[i] = b_lo, b_hi
    for name, value in (fix or {}).items():
        i = names.index(name)
        if not (np.isfinite(value) and lo[i] <= value <= hi[i]):
            raise InputError(f"fix: {name}={value:g} is outside the prior [{lo[i]:g}, {hi[i]:g}]")
    space = ParameterSpace(names, lo, hi, {k: float(v) for k, v in (fix or {}).items()})
    if not space.free:
        raise InputError("fix: every parameter is fixed; leave at least one free")
    return space
