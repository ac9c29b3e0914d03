"""The emulator's error that its own variances do not describe, measured on mocks it never saw.

The ensemble's epistemic variance is the spread of its members: on the shipped emulator it is 2-8% of one
realisation's variance of ξ, yet the emulator's mean misses independent mocks coherently across bins, so
that one held-out realisation's χ² over the 60 bins (noise correlation included) exceeds its 95% point for
19% of realisations instead of 5%. The artifact therefore carries an excess covariance ``E``, measured on
independent mocks in units of the single-realisation aleatoric sd σ(θ). With ``z = (x - μ(θ)) / σ(θ)`` for
every realisation ``x`` of every row::

    E = PSD part of ( <z z^T> - C - diag(<v_epi / σ²>) )

where ``C`` is the noise correlation (:mod:`emulators.ia.noise`), ``v_epi`` the ensemble's epistemic variance
and ``<.>`` the mean over rows and realisations (the second moment, so that a bias counts as error). The
likelihood adds ``diag(σ) E diag(σ)`` to the epistemic covariance (:mod:`inference.ia.likelihood`).

``E`` is one matrix for the whole box, but how well the covariance describes the mocks depends on θ: on the
shipped emulator's error mocks a realisation's χ²/K at its truth ran from 0.64 to 1.14 by fifth of log M1
(the noise correlation of small-r ξ falls from 0.77 to 0.15 across the box, and the network's variance
overstates the scatter where satellites are many). On request (``amplitude=True``, ``iaemu
calibrate-error --amplitude``) the entry also carries an amplitude ``a(θ) = exp(b₀ + b·x)``, x the network's
inputs (the parameters scaled to [-1, 1] on the prior box), fitted by maximum likelihood to every
realisation's ``χ² = z^T M^-1 z`` with ``M = C + E + diag(v_epi / σ²)``, as ``χ² / a`` ~ χ²_K; the
likelihood multiplies the emulator covariance by it
(:meth:`inference.ia.likelihood.IALikelihood.model_covariance`). It is off by default: on the shipped
emulator it brings χ²/K to 0.99-1.04 in every fifth of log M1 of the held-out file, but leaves the NUTS
posteriors of the calibration injections as they were (docs/ia_fit_calibration.md).

Usage::

    entry = emulator_error(emulator, "independent_mocks.h5")   # the artifact's "emulator_error" entry
    add_emulator_error("emu/", "independent_mocks.h5")          # measured and written into emu/
    add_emulator_error("emu/", "independent_mocks.h5", amplitude=True)   # with a(θ)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from common.atomic import atomic_file
from common.errors import InputError
from emulators.artifact_files import EMULATOR_JSON
from emulators.ia.data import MockData, read_mocks
from emulators.ia.emulator import TorchEmulator
from emulators.ia.noise import read_realisations

AMPLITUDE_ROWS_PER_COEFFICIENT = 5  # fewer finite rows than this per coefficient: no amplitude (a = 1)


def _standardised(
    realisations: np.ndarray, mean: np.ndarray, aleatoric_var: np.ndarray, epistemic_var: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The usable rows (N,) (every entry finite, σ > 0), and for them ``z = (x - μ) / σ`` (N', R, S·B) and
    ``v_epi / σ²`` (N', S·B). Shapes as in :func:`excess_covariance`."""
    n, r = realisations.shape[:2]
    x = realisations.reshape(n, r, -1)
    mu, var, epi = (a.reshape(n, -1) for a in (mean, aleatoric_var, epistemic_var))
    ok = np.isfinite(x).all(axis=(1, 2)) & np.isfinite(mu).all(axis=1) & (var > 0).all(axis=1)
    sd = np.sqrt(var[ok])
    return ok, (x[ok] - mu[ok][:, None]) / sd[:, None], epi[ok] / sd**2


def excess_covariance(
    realisations: np.ndarray,
    mean: np.ndarray,
    aleatoric_var: np.ndarray,
    epistemic_var: np.ndarray,
    noise_corr: np.ndarray | None,
) -> tuple[np.ndarray, int]:
    """The excess ``E`` (S·B, S·B) of the residuals' second moment over the emulator's own covariance, in
    units of σ, and the number of rows it used.

    realisations: (N, R, S, B) physical units; mean, aleatoric_var (of ONE realisation), epistemic_var:
    (N, S, B) the emulator's prediction at each row; noise_corr: (S·B, S·B), None for independent bins.
    Rows with a non-finite entry are skipped. Negative eigenvalues (where the emulator's covariance is
    larger than the residuals') are set to zero.
    """
    ok, z, epi = _standardised(realisations, mean, aleatoric_var, epistemic_var)
    if ok.sum() < 2:
        raise ValueError("emulator error: needs at least 2 finite rows")
    second = np.einsum("nri,nrj->ij", z, z) / z.shape[0] / z.shape[1]
    corr = np.eye(z.shape[2]) if noise_corr is None else np.asarray(noise_corr, float)
    excess = second - corr - np.diag(np.mean(epi, axis=0))
    values, vectors = np.linalg.eigh(0.5 * (excess + excess.T))
    return (vectors * np.clip(values, 0.0, None)) @ vectors.T, int(ok.sum())


def realisation_chi2(
    realisations: np.ndarray,
    mean: np.ndarray,
    aleatoric_var: np.ndarray,
    epistemic_var: np.ndarray,
    model: np.ndarray,
) -> np.ndarray:
    """χ² (N, R) of every realisation at its row's prediction under the covariance ``diag(σ) model
    diag(σ) + diag(v_epi)`` (``model``: (S·B, S·B) in units of σ, e.g. ``C + E``); NaN for a row with a
    non-finite entry. Shapes as in :func:`excess_covariance`."""
    ok, z, epi = _standardised(realisations, mean, aleatoric_var, epistemic_var)
    chi2 = np.full(realisations.shape[:2], np.nan)
    for i, zi, ei in zip(np.flatnonzero(ok), z, epi, strict=True):
        white = np.linalg.solve(np.linalg.cholesky(model + np.diag(ei)), zi.T)
        chi2[i] = np.sum(white**2, axis=0)
    return chi2


def amplitude_coefficients(
    chi2: np.ndarray, inputs: np.ndarray, k: int, iterations: int = 100
) -> np.ndarray | None:
    """Coefficients ``b`` (1 + P,) of ``a(x) = exp(b₀ + b·x)`` maximising the likelihood of ``χ²_ij / a(x_i)
    ~ χ²_k`` (Fisher scoring) over the rows (N, R) of ``chi2`` whose realisations are all finite, at their
    inputs (N, P); None (a = 1) with fewer than ``AMPLITUDE_ROWS_PER_COEFFICIENT`` such rows per
    coefficient."""
    ok = np.isfinite(chi2).all(axis=1)
    if ok.sum() < AMPLITUDE_ROWS_PER_COEFFICIENT * (inputs.shape[1] + 1):
        return None
    design = np.column_stack([np.ones(ok.sum()), inputs[ok]])
    total, count = chi2[ok].sum(axis=1), chi2.shape[1] * k
    b = np.zeros(design.shape[1])
    b[0] = np.log(total.mean() / count)
    for _ in range(iterations):
        step = np.linalg.lstsq(design, total / (count * np.exp(design @ b)) - 1.0, rcond=None)[0]
        b += step
        if np.abs(step).max() < 1e-10:
            break
    return b


def read_error_mocks(mocks: str | os.PathLike[str], training_sha256: str | None, param_names: list[str],
                     r_edges: np.ndarray) -> MockData:
    """The usable rows of ``mocks`` (docs/ARCHITECTURE.md 3.1), checked to be independent of the training file
    (its SHA-256) and to share its parameters and bins (Mpc/h): cheap, so a training checks them first."""
    if not Path(mocks).is_file():
        raise InputError(f"{mocks}: no such mock file (the independent mocks of the emulator error)")
    data = read_mocks(mocks, drop_nan=True)
    if data.sha256 == training_sha256:
        raise InputError(f"{mocks}: the emulator's training file; expected independent mocks")
    if data.param_names != list(param_names):
        raise InputError(f"{mocks}: /params: param_names {', '.join(data.param_names)} differ from the "
                         f"emulator's {', '.join(param_names)}")
    edges = np.asarray(r_edges)
    if data.r_edges.shape != edges.shape or not np.allclose(data.r_edges, edges, rtol=1e-9):
        raise InputError(f"{mocks}: /r_edges: bins differ from the emulator's")
    if len(data.params) < 2:
        raise InputError(f"{mocks}: /done: {len(data.params)} usable rows; expected at least 2")
    return data


def emulator_error(
    emulator: TorchEmulator, mocks: str | os.PathLike[str], *, amplitude: bool = False
) -> dict:
    """The artifact's ``emulator_error`` entry measured on every usable row of ``mocks`` (docs/ARCHITECTURE.md
    3.1, read and checked by :func:`read_error_mocks`), which must share the emulator's parameters and bins
    and must not be its training file. The amplitude a(θ) is fitted only when ``amplitude`` is set, and is
    null (a = 1) otherwise or when the mocks are too few for it (:func:`amplitude_coefficients`)."""
    data = read_error_mocks(mocks, emulator.meta.get("data", {}).get("sha256"), list(emulator.param_names),
                            emulator.r_edges)
    cube = read_realisations(mocks, data.row_index)
    pred = emulator.predict(data.params, n_realisations=1)
    corr = None if emulator.noise is None else np.asarray(emulator.noise["correlation"], float)
    excess, used = excess_covariance(cube, pred.mean, pred.aleatoric, pred.epistemic, corr)
    excess = np.round(excess, 5)
    coefficients = None
    if amplitude:
        model = excess + (np.eye(len(excess)) if corr is None else corr)
        chi2 = realisation_chi2(cube, pred.mean, pred.aleatoric, pred.epistemic, model)
        coefficients = amplitude_coefficients(chi2, emulator.scalers.inputs(data.params), len(excess))
    fitted = None
    if coefficients is not None:
        fitted = {
            "coefficients": np.round(coefficients, 5).tolist(),
            "inputs": "x = 2 (p - prior_lo) / (prior_hi - prior_lo) - 1 (the scalers' prior box)",
            "model": "a(x) = exp(c0 + c[1:] . x) multiplies the emulator covariance",
            "estimator": "maximum likelihood of chi2 / a ~ chi2_K for every realisation, chi2 = z^T (noise "
                         "correlation + covariance + diag(epistemic / aleatoric))^-1 z",
        }
    return {
        "covariance": excess.tolist(),
        "amplitude": fitted,
        "units": "single-realisation aleatoric sd of each bin (statistics x r bins, statistic-major)",
        "rows": used,
        "realisations": int(cube.shape[1]),
        "mocks_sha256": data.sha256,
        "estimator": "PSD part of <z z^T> - noise correlation - diag(<epistemic / aleatoric>), "
                     "z = (realisation - mean) / aleatoric sd",
    }


def add_emulator_error(artifact: str | os.PathLike[str], mocks: str | os.PathLike[str], *,
                       amplitude: bool = False) -> dict:
    """Measure the emulator error of the artifact directory ``artifact`` on ``mocks`` (with a(θ) when
    ``amplitude``) and write it into its ``emulator.json`` (atomically; the weights are untouched). Returns
    the entry."""
    from emulators.ia.artifact import load_emulator, read_json

    doc = read_json(artifact)
    entry = emulator_error(load_emulator(artifact), mocks, amplitude=amplitude)
    doc["emulator_error"] = entry
    with atomic_file(Path(artifact) / EMULATOR_JSON) as tmp:
        tmp.write_text(json.dumps(doc, indent=1))
    return entry
