"""A trained IA emulator: its networks, scalers and metadata, and predictions in physical units.

Epistemic uncertainty comes from K forward passes: the M members of a deep ensemble (default), or K passes
of one network with MC dropout (every dropout layer active, exactly as in training; norms in eval mode; masks
drawn from ``mc_seed``). With per-pass means ``mu_k`` and single-realisation variances ``v_k`` in the
transformed space (log ξ, ω, η):

    mean_t = avg_k mu_k,   epistemic_t = var_k mu_k (ddof 0),   aleatoric_t(n) = avg_k v_k / n

``aleatoric`` is the variance of the mean of ``n`` realisations (default: the training dataset's R), which
is the quantity a realisation-mean comparison or a likelihood needs.

ξ is emulated as log ξ and brought back with the log-normal moments (not the delta method): with
``s2 = aleatoric_t + epistemic_t``, ``E[ξ] = exp(mean_t + s2 / 2)`` (``s2`` taken at the training R, since
the net learnt the mean of log of an R-realisation mean) and each part
``Var = (exp(s2_part) - 1) * E[ξ]^2``. The parts add to the exact log-normal total up to the cross term
``(exp(s2_a) - 1)(exp(s2_e) - 1) E[ξ]^2``, below 1e-4 of the total for log-space errors under 10%.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from common.errors import InputError
from emulators.ia.data import LOG_STATISTICS, STATISTICS, Scalers
from emulators.ia.interface import Prediction
from emulators.ia.network import Ensemble


@dataclass
class TorchEmulator:
    """Networks + scalers + what the artifact records (docs/ARCHITECTURE.md 3.2)."""

    net: Ensemble
    scalers: Scalers
    param_names: list[str]
    r: np.ndarray  # (B,) Mpc/h
    r_edges: np.ndarray  # (B+1,) Mpc/h
    n_real: int  # realisations per training row
    epistemic: str = "ensemble"  # "ensemble" | "mc_dropout"
    mc_samples: int = 32
    meta: dict = field(default_factory=dict)  # training record and test metrics
    noise: dict | None = None  # noise correlation across bins (emulators.ia.noise), None when not estimated
    error: dict | None = None  # excess error measured on independent mocks (emulators.ia.error)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def _check(self, params: np.ndarray) -> np.ndarray:
        params = np.asarray(params, dtype=np.float64)
        if params.ndim == 1:
            params = params[None]
        if params.ndim != 2 or params.shape[1] != len(self.param_names):
            raise InputError(f"params: expected shape (N, {len(self.param_names)}) in the order "
                             f"{', '.join(self.param_names)}, got {params.shape}")
        return params

    @torch.no_grad()
    def passes(self, params: np.ndarray, *, batch_size: int = 65536, mc_seed: int = 0) -> np.ndarray:
        """Per-pass outputs in the transformed space (log ξ, ω, η): (K, N, 2, S, B) float64."""
        x_all = torch.as_tensor(self.scalers.inputs(self._check(params)), dtype=torch.float32)
        center = torch.as_tensor(self.scalers.center, dtype=torch.float64)
        scale = torch.as_tensor(self.scalers.scale, dtype=torch.float64)
        self.net.eval()
        chunks = []
        # full float32 on CUDA (no TF32 convolutions), so GPU and CPU predictions agree to ~1e-6
        with self._dropout_rng(mc_seed), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
            for start in range(0, x_all.shape[0], batch_size):
                x = x_all[start:start + batch_size].to(self.device)
                chunks.append(self._forward(x).double().cpu())
        out = torch.cat(chunks, dim=1) if len(chunks) > 1 else chunks[0]
        mean = out[:, :, 0] * scale + center
        var = out[:, :, 1] * scale**2
        return torch.stack([mean, var], dim=2).numpy()

    @contextlib.contextmanager
    def _dropout_rng(self, seed: int) -> Iterator[None]:
        """MC dropout draws masks from ``seed`` without touching the global RNG; an ensemble draws none."""
        if self.epistemic == "ensemble":
            yield
            return
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)
            yield

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.epistemic == "ensemble":
            return self.net(x)
        dropouts = [m for m in self.net.modules() if isinstance(m, torch.nn.Dropout)]
        if not dropouts:
            raise InputError("emulator: epistemic 'mc_dropout' needs a network trained with dropout > 0")
        for m in dropouts:
            m.train()
        try:
            return torch.cat([self.net(x) for _ in range(self.mc_samples)])
        finally:
            for m in dropouts:
                m.eval()

    def predict(self, params: np.ndarray, *, n_realisations: int | None = None, batch_size: int = 65536,
                mc_seed: int = 0) -> Prediction:
        """Mean, aleatoric and epistemic variance in physical units at ``params`` (N, P), physical units.

        ``n_realisations``: the aleatoric part is the variance of the mean of that many realisations
        (default: as many as each training row had).
        """
        return combine(self.passes(params, batch_size=batch_size, mc_seed=mc_seed), self.n_real,
                       n_realisations or self.n_real)


def combine(passes: np.ndarray, n_train: int, n_real: int) -> Prediction:
    """Reduce per-pass outputs (K, N, 2, S, B) in transformed space to a physical-unit :class:`Prediction`."""
    mu, var = passes[:, :, 0], passes[:, :, 1]
    mean_t = mu.mean(axis=0)
    epi_t = mu.var(axis=0)
    single_t = var.mean(axis=0)
    mean, alea, epi = mean_t.copy(), single_t / n_real, epi_t.copy()
    for s, name in enumerate(STATISTICS):
        if name in LOG_STATISTICS:
            phys = np.exp(mean_t[:, s] + 0.5 * (single_t[:, s] / n_train + epi_t[:, s]))
            mean[:, s] = phys
            alea[:, s] = np.expm1(single_t[:, s] / n_real) * phys**2
            epi[:, s] = np.expm1(epi_t[:, s]) * phys**2
    return Prediction(mean, alea, epi)
