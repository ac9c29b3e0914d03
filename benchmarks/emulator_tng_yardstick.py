"""An emulator's error on independent test mocks, measured against what a TNG300 fit can resolve.

    .venv/bin/python benchmarks/emulator_tng_yardstick.py EMULATOR_DIR TEST_MOCKS.h5 \
        [--tables examples/tng300]

Δ = the emulator's mean − the test row's realisation mean, both averaged onto the TNG300 tables' 14 bins
(logspace(-1, 1.5, 15) Mpc/h; ξ by shell volume, ω pair-weighted with each side's own ξ, as
inference/ia/binning.py rebins a prediction). Prints one JSON line: the median |Δ|/ξ, against IAEmu's 3%,
and the median |Δ|/σ of ω, against IAEmu's 5%-level ω errors, with σ the sample-1 jackknife error of ω in
TNG300's 205 Mpc/h box (the precision of a TNG-volume measurement; per bin, the same σ for every row). The
test mean carries its own noise: the median σ_mean/σ of the 4-realisation means is printed beside it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from world_vs_anchors import TNG_EDGES

from emulators.ia.artifact import load_emulator
from emulators.ia.data import STATISTICS, read_mocks
from inference.ia.binning import BinMap, rebin_matrix
from inference.ia.observation_import import read_table

XI, OMEGA = STATISTICS.index("xi"), STATISTICS.index("omega")


def onto_tng(mean: np.ndarray, mapping: BinMap) -> tuple[np.ndarray, np.ndarray]:
    """(N, 14) ξ and ω on the TNG bins from (N, S, B) means on the emulator's bins."""
    xi = mean[:, XI] @ mapping.weights("xi").T
    omega = np.stack([mapping.weights("omega", row[XI]) @ row[OMEGA] for row in mean])
    return xi, omega


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("emulator", type=Path)
    parser.add_argument("test", type=Path)
    parser.add_argument("--tables", type=Path, default=Path("examples/tng300"))
    args = parser.parse_args()
    emulator, data = load_emulator(args.emulator), read_mocks(args.test)
    matrix = rebin_matrix(TNG_EDGES, emulator.r_edges)
    if matrix is None:
        raise SystemExit(f"{args.emulator}: the TNG edges are not among the emulator's bin edges")
    mapping = BinMap("rebin", matrix)
    sigma = read_table(args.tables / "TNG300-1_99-sample_1_ed.dat", "omega")[2]
    pred = emulator.predict(data.params, n_realisations=data.n_real)
    xi_emu, omega_emu = onto_tng(pred.mean, mapping)
    xi_sim, omega_sim = onto_tng(data.mean, mapping)
    _, omega_noise = onto_tng(data.mean + data.std / np.sqrt(data.n_real), mapping)
    positive = xi_sim > 0
    print(json.dumps({
        "emulator": str(args.emulator), "test": str(args.test), "rows": int(len(data.params)),
        "median_abs_err_over_xi": float(np.median(np.abs(xi_emu - xi_sim)[positive] / xi_sim[positive])),
        "median_abs_err_over_sigma_tng_omega": float(np.median(np.abs(omega_emu - omega_sim) / sigma)),
        "per_bin_median_abs_err_over_sigma_tng_omega": np.round(
            np.median(np.abs(omega_emu - omega_sim) / sigma, axis=0), 3).tolist(),
        "median_test_noise_over_sigma_tng_omega": float(np.median(np.abs(omega_noise - omega_sim) / sigma)),
        "reference": {"xi": 0.03, "omega": 0.05, "source": "IAEmu, Pandya et al. 2025"},
    }))


if __name__ == "__main__":
    main()
