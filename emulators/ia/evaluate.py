"""Accuracy and calibration of an IA emulator on held-out mocks (``iaemu evaluate``).

Per statistic and bin, with Δ = prediction - realisation mean of a test row, σ_sim the scatter between its
R realisations (ddof 1) and σ_mean = σ_sim / sqrt(R) the standard error of that mean:

- ξ: percentiles 50/68/95/99 of |Δ| / ξ (bins with ξ <= 0 left out and counted); ω, η: of |Δ| / σ_sim
  (1 = "as good as one more simulation");
- all: median |Δ| / σ_mean (a perfect emulator scores ~0.67 for large R); z = Δ / sqrt(predicted total
  variance of an R-realisation mean): its mean and standard deviation, and the coverage of the central 68%
  and 95% Gaussian predictive intervals (also with the aleatoric part alone);
- ``aleatoric_over_sem2``: mean predicted aleatoric variance over mean σ_mean^2 (1 when the noise is right).

``summary`` pools all bins; ``per_bin`` gives the same per bin. If the test file is the training file, only
the rows the training held out are used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from common.atomic import atomic_directory
from common.errors import InputError
from common.outputs import check_output, holds
from emulators.ia.data import STATISTICS, MockData, read_mocks
from emulators.ia.emulator import TorchEmulator
from emulators.ia.interface import Prediction

PERCENTILES = (50, 68, 95, 99)
# IAEmu's published accuracy on ξ (Pandya et al. 2025), printed beside ours
IAEMU_REFERENCE = {"median_abs_err_over_xi": 0.03, "source": "IAEmu, Pandya et al. 2025"}
Z68, Z95 = 0.9944578832097535, 1.959963984540054


def _pooled(values: np.ndarray, valid: np.ndarray, axis: int | None) -> dict:
    v = np.where(valid, values, np.nan)
    with np.errstate(all="ignore"):
        out = {f"p{q}": np.nanpercentile(v, q, axis=axis) for q in PERCENTILES}
    return {k: (float(x) if axis is None else np.asarray(x).tolist()) for k, x in out.items()}


def _ratio(num: float | list, den: float | list) -> float | list:
    with np.errstate(all="ignore"):
        r = np.asarray(num) / np.asarray(den)
    return float(r) if r.ndim == 0 else r.tolist()


def _stat_metrics(delta: np.ndarray, truth: np.ndarray, std: np.ndarray, n_real: int, alea: np.ndarray,
                  total: np.ndarray, name: str, axis: int | None) -> dict:
    sem = std / np.sqrt(n_real)
    ok = std > 0
    with np.errstate(all="ignore"):
        z, z_alea = delta / np.sqrt(total), delta / np.sqrt(alea)
        if name == "xi":
            rel, rel_ok, rel_name = np.abs(delta) / truth, truth > 0, "abs_err_over_xi"
        else:
            rel, rel_ok, rel_name = np.abs(delta) / std, ok, "abs_err_over_sigma_sim"
        over_sem = np.where(ok, np.abs(delta) / sem, np.nan)

    def agg(fn, values, valid):
        with np.errstate(all="ignore"):
            r = fn(np.where(valid, values, np.nan), axis=axis)
        return float(r) if axis is None else np.asarray(r).tolist()

    return {
        rel_name: _pooled(rel, rel_ok, axis),
        "median_abs_err_over_sigma_mean": agg(np.nanmedian, over_sem, ok),
        "z_mean": agg(np.nanmean, z, True),
        "z_std": agg(np.nanstd, z, True),
        "coverage_68": agg(np.nanmean, (np.abs(z) < Z68).astype(float), True),
        "coverage_95": agg(np.nanmean, (np.abs(z) < Z95).astype(float), True),
        "coverage_68_aleatoric_only": agg(np.nanmean, (np.abs(z_alea) < Z68).astype(float), True),
        "aleatoric_over_sem2": _ratio(agg(np.nanmean, alea, ok), agg(np.nanmean, sem**2, ok)),
        "excluded_entries": int((~rel_ok).sum()),
    }


def compute_metrics(emulator: TorchEmulator, data: MockData, *, pred: Prediction | None = None) -> dict:
    """Metrics of ``emulator`` on every row of ``data`` (see the module docstring)."""
    if data.r.shape != emulator.r.shape or not np.allclose(data.r, emulator.r, rtol=1e-6):
        raise InputError(f"{data.path}: /r: the dataset's bins {np.round(data.r, 4).tolist()} differ from "
                         f"the emulator's {np.round(emulator.r, 4).tolist()}")
    if list(data.param_names) != list(emulator.param_names):
        raise InputError(f"{data.path}: /params: param_names {data.param_names} differ from the emulator's "
                         f"{emulator.param_names}")
    pred = pred or emulator.predict(data.params, n_realisations=data.n_real)
    delta = pred.mean - data.mean
    out: dict = {"rows": int(len(data.params)), "realisations": data.n_real, "summary": {}, "per_bin": {},
                 "reference": IAEMU_REFERENCE}
    for s, name in enumerate(STATISTICS):
        args = (delta[:, s], data.mean[:, s], data.std[:, s], data.n_real, pred.aleatoric[:, s],
                pred.total[:, s], name)
        out["summary"][name] = _stat_metrics(*args, axis=None)
        out["per_bin"][name] = _stat_metrics(*args, axis=0)
    return out


def evaluate_artifact(emulator_dir: str | os.PathLike[str], test_path: str | os.PathLike[str],
                      out: str | os.PathLike[str], *, drop_nan: bool = False, device: str = "cpu",
                      mc_seed: int = 0) -> dict:
    """Evaluate the artifact ``emulator_dir`` on ``test_path``; write metrics.json and plots into ``out``."""
    from emulators.ia.artifact import load_emulator
    from emulators.ia.plots import write_plots

    check_output(out, "dir", inputs=(emulator_dir, test_path), own=holds("metrics.json"), what="report")
    emulator = load_emulator(emulator_dir, device=device)
    data = read_mocks(test_path, drop_nan=drop_nan)
    held_out = data.sha256 == emulator.meta.get("data", {}).get("sha256")
    if held_out:
        rows = np.asarray(emulator.meta["split"]["test_rows"], dtype=int)
        if rows.size == 0:
            raise InputError(f"{test_path}: this is the training file and the training held out no test rows")
        data = data.subset(np.searchsorted(data.row_index, rows))
    pred = emulator.predict(data.params, n_realisations=data.n_real, mc_seed=mc_seed)
    metrics = compute_metrics(emulator, data, pred=pred)
    metrics.update({"test_file": str(test_path), "test_sha256": data.sha256, "excluded": data.excluded,
                    "rows_used": "held-out test rows of the training file" if held_out else "all usable rows",
                    "emulator": str(emulator_dir)})
    with atomic_directory(out) as tmp:
        (Path(tmp) / "metrics.json").write_text(json.dumps(metrics, indent=1))
        write_plots(data, pred, metrics, Path(tmp))
    return metrics
