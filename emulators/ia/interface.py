"""The IA emulator's interface, defined once for both sides of the weights file (docs/ARCHITECTURE.md 3.2).

:class:`Prediction` is what every emulator returns: the torch emulator (:mod:`emulators.ia.emulator`, numpy
arrays (N, S, B) for N parameter points), its JAX port (:mod:`inference.ia.emulator_jax`, JAX arrays (S, B)
at one point) and the analytic stand-ins of the tests. :class:`Emulator` is what a likelihood needs from
one. Torch-free, so that a fit imports it without torch.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np


class Prediction(NamedTuple):
    """Mean, aleatoric and epistemic variance in physical units, arrays of one shape whose statistic axis
    follows the emulator's ``statistics``; ``aleatoric`` is the variance of the mean of the number of
    realisations asked for."""

    mean: Any
    aleatoric: Any
    epistemic: Any

    @property
    def total(self) -> Any:
        """Aleatoric plus epistemic variance."""
        return self.aleatoric + self.epistemic


class Emulator(Protocol):
    """What the likelihood needs from an emulator (the JAX port or an analytic stand-in)."""

    name: str
    param_names: tuple[str, ...]
    prior_lo: np.ndarray  # (P,) the training box
    prior_hi: np.ndarray
    r: np.ndarray  # (B,) Mpc/h
    r_edges: np.ndarray | None
    statistics: tuple[str, ...]

    def predict(self, theta: Any) -> Prediction:
        """The prediction at one parameter point ``theta`` (P,), physical units, as (S, B) arrays."""
        ...

    def digest(self) -> str:
        """A hash that changes whenever the predictions would."""
        ...
