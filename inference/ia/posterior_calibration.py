"""Posterior calibration of the fixed-form IA likelihood: one factor κ on the held emulator covariance,
measured by injection/recovery on independent mocks (never trained on, and not the held-out test file).

Usage::

    iaemu validate emu/ error_mocks.h5 --n-injections 32 --seed 1 --out calval/   # injections at κ = 1
    iaemu calibrate-scale emu/ calval/                                             # κ into emu/

or ``entry = add_covariance_scale("emu/", "calval/")``. The fit then holds ``κ Σ_emu(θ̂)``
(:meth:`inference.ia.likelihood.IALikelihood.held_covariance`).

Why: the posteriors of single held-out realisations were too narrow, with the truth outside the central
68% interval for 35–45% of injections per parameter (README, "Calibrating the IA fit"), while the
likelihood at the truth is calibrated bin by bin. The misses come from the non-linear fit (the freeze point,
the emulator's error varying with θ along the HOD ridge), which no per-bin measurement sees.

Estimator (:func:`covariance_scale`): each injection's posterior fraction below the truth ``u`` becomes a
standardised position ``z = Φ⁻¹(u)``. For a posterior Gaussian about its mean, scaling its covariance by κ
moves the truth to ``z / √κ``, so κ = (q / Φ⁻¹(0.84))², with q the 68% quantile of ``|z|`` over every
(injection, parameter) pair: the pooled central-68% coverage becomes nominal. It multiplies the κ the
injections were run with, and the validation must have been run with this artifact as it is now.

Steps: a further validation on other injections (another seed) of the independent mocks, run with the κ
just written, measures the factor still missing (a fixed-point step of the same estimator, whose Gaussian
scaling is the more exact the nearer the factor is to 1); κ becomes the product, and the entry keeps the
steps before it under ``previous``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import norm

from common.atomic import atomic_file
from common.errors import InputError
from emulators.artifact_files import EMULATOR_JSON

if TYPE_CHECKING:
    from inference.ia.emulator_jax import JaxEmulator

LEVEL = 0.68  # the central interval whose pooled coverage κ makes nominal


def covariance_scale(u: np.ndarray, level: float = LEVEL) -> float:
    """κ from posterior fractions below the truth ``u`` (any shape, values in [0, 1]); see the module."""
    u = np.clip(np.asarray(u, float).reshape(-1), 1e-6, 1 - 1e-6)
    q = np.quantile(np.abs(norm.ppf(u)), level)
    return float((q / norm.ppf(0.5 + level / 2)) ** 2)


def read_validation_u(validation: str | os.PathLike[str]) -> tuple[np.ndarray, dict]:
    """The ``u`` columns (K, F) of ``injections.csv`` and the ``run`` block of ``coverage.json`` of an
    ``iaemu validate`` output directory."""
    folder = Path(validation)
    table, report = folder / "injections.csv", folder / "coverage.json"
    for path in (report, table):
        if not path.is_file():
            raise InputError(f"{path}: missing (expected an `iaemu validate` output directory)")
    return _u_table(table), _run_block(report)


def _run_block(report: Path) -> dict:
    """The ``run`` object of coverage.json; InputError for a torn or foreign file."""
    try:
        doc = json.loads(report.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{report}: not valid JSON (truncated? {err})") from None
    run = doc.get("run") if isinstance(doc, dict) else None
    if not isinstance(run, dict):
        raise InputError(f"{report}: run: missing; expected the object `iaemu validate` writes")
    return run


def _u_table(table: Path) -> np.ndarray:
    """The ``*_u`` columns (K, F) of injections.csv, each a number in [0, 1]; InputError naming the row."""
    try:
        with open(table, newline="") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{table}: not a readable CSV table ({err})") from None
    columns = [j for j, name in enumerate(rows[0]) if name.endswith("_u")] if rows else []
    if not columns or len(rows) < 2:
        raise InputError(f"{table}: no injections with u columns")
    u = np.full((len(rows) - 1, len(columns)), np.nan)
    for i, row in enumerate(rows[1:]):
        try:
            u[i] = [float(row[j]) for j in columns]
        except (IndexError, ValueError):
            pass
        if not np.all((u[i] >= 0) & (u[i] <= 1)):
            raise InputError(f"{table}: row {i + 2}: expected a number in [0, 1] in every u column "
                             f"({', '.join(rows[0][j] for j in columns)}); truncated?")
    return u


def fitted_with(run: dict, emulator: JaxEmulator) -> bool:
    """Whether a validation (its coverage.json ``run`` block) fitted ``emulator`` as it is now."""
    return run.get("emulator_digest") == emulator.digest()


def add_covariance_scale(artifact: str | os.PathLike[str], validation: str | os.PathLike[str]) -> dict:
    """Measure κ on the validation directory ``validation`` (run with ``artifact`` as it is now, on
    independent mocks) and write it into the artifact's emulator-error entry (the step before it, if any,
    under ``previous``); return the new entry."""
    from inference.ia.emulator_jax import load_jax_emulator

    emulator = load_jax_emulator(artifact)
    doc = emulator.doc  # the artifact's emulator.json, as loaded
    entry = doc.get("emulator_error")
    if not entry:
        raise InputError(f"{artifact}: no emulator_error entry (run `iaemu calibrate-error` first)")
    u, run = read_validation_u(validation)
    if not fitted_with(run, emulator):
        raise InputError(
            f"{validation}: coverage.json: run.emulator_digest {run.get('emulator_digest')} is not the "
            f"digest of {artifact} as it is now ({emulator.digest()}); expected a validation of it"
        )
    training = (doc.get("training") or {}).get("data", {}).get("sha256")
    if run.get("held_out_sha256") == training:
        raise InputError(
            f"{validation}: the injections are rows of the training file; expected independent mocks"
        )
    measured = covariance_scale(u)
    before = entry.get("covariance_scale")
    entry["covariance_scale"] = {
        "value": round(emulator.covariance_scale * measured, 4),
        "measured": round(measured, 4),
        "injections": int(u.shape[0]),
        "parameters": int(u.shape[1]),
        "mocks_sha256": run.get("held_out_sha256"),
        "estimator": "(68% quantile of |Phi^-1(u)| / Phi^-1(0.84))^2 over (injection, parameter) pairs, "
                     "times the scale the injections were run with",
    } | ({"previous": before} if before else {})
    with atomic_file(Path(artifact) / EMULATOR_JSON) as tmp:
        tmp.write_text(json.dumps(doc, indent=1))
    return entry["covariance_scale"]


def scale_steps(scale: dict) -> list[int]:
    """The injections of each step that measured an emulator-error entry's ``covariance_scale``, first
    step first."""
    return ([] if "previous" not in scale else scale_steps(scale["previous"])) + [int(scale["injections"])]
