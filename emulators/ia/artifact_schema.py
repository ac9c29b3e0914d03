"""The schema of ``emulator.json`` (docs/ARCHITECTURE.md 3.2), checked when an artifact is read, torch-free.

Both readers, the torch one (:mod:`emulators.ia.artifact`) and the JAX port
(:mod:`inference.ia.emulator_jax`), read the document through :func:`read_emulator_json`, so a malformed
artifact (a JSON array, a missing ``forward`` or ``architecture``, a prior with lo >= hi, a wrong type) is
refused in one line naming the file and the key (docs/ARCHITECTURE.md 2), before any weight is loaded.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

from catalogs.mocks.correlations import STATISTICS
from common.errors import InputError
from emulators.artifact_files import EMULATOR_JSON, WEIGHTS

FORMAT, FORMAT_VERSION = "iaemu-emulator", 1
EPISTEMIC = ("ensemble", "mc_dropout")
TRANSFORMS = ("log", "identity")


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _numbers(x: Any, size: int | None = None) -> bool:
    return isinstance(x, list) and all(map(_is_number, x)) and (size is None or len(x) == size)


def _increasing(x: Any, size: int | None = None) -> bool:
    return _numbers(x, size) and len(x) >= 1 and x[0] > 0 and all(b > a for a, b in pairwise(x))


def _count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 1


def _matrix(x: Any) -> bool:
    return isinstance(x, list) and all(_numbers(row, len(x)) for row in x)


def _amplitude(x: Any, n_params: int) -> bool:
    """No amplitude, or one with the 1 + P coefficients of a(θ) (emulators.ia.error)."""
    return x is None or (isinstance(x, dict) and _numbers(x.get("coefficients"), n_params + 1))


def _calibration(x: Any, names: list[str]) -> bool:
    """No calibration, or one with κ > 0 and, if any, a variance D ≥ 0 for every parameter
    (inference.ia.posterior_calibration)."""
    if x is None:
        return True
    if not isinstance(x, dict) or not _numbers([x.get("value")], 1) or not x["value"] > 0:
        return False
    extra = x.get("parameter_variance")
    return extra is None or (isinstance(extra, dict) and set(extra) == set(names)
                             and _numbers(list(extra.values()), len(names)) and min(extra.values()) >= 0)


# key -> (test, expectation); the tests that need other keys come after the keys they read
_TOP: dict[str, tuple[Callable[[Any], bool], str]] = {
    "statistics": (lambda x: isinstance(x, list) and bool(x) and all(s in STATISTICS for s in x)
                   and len(set(x)) == len(x), f"a list of distinct names among {', '.join(STATISTICS)}"),
    "param_names": (lambda x: isinstance(x, list) and bool(x) and all(isinstance(n, str) for n in x)
                    and len(set(x)) == len(x), "a list of distinct parameter names"),
    "r": (_increasing, "a list of positive, increasing radii (Mpc/h)"),
    "scalers": (lambda x: isinstance(x, dict), "an object"),
    "architecture": (lambda x: isinstance(x, dict), "an object (the network's settings)"),
    "forward": (lambda x: isinstance(x, dict) and isinstance(x.get("encoder"), list)
                and isinstance(x.get("decoders"), list) and all(isinstance(d, list) for d in x["decoders"]),
                "an object with the op lists 'encoder' and 'decoders'"),
    "ensemble": (lambda x: isinstance(x, dict) and _count(x.get("size")) and x.get("epistemic") in EPISTEMIC
                 and _count(x.get("mc_samples")) and isinstance(x.get("prefix", ""), str),
                 f"an object with size >= 1, epistemic ({', '.join(EPISTEMIC)}), mc_samples >= 1"),
    "variance": (lambda x: isinstance(x, dict) and _count(x.get("n_realisations")),
                 "an object with n_realisations >= 1"),
    "weights": (lambda x: isinstance(x, dict) and isinstance(x.get("sha256"), str),
                f"an object with the sha256 of {WEIGHTS}"),
}


def _dependent(doc: dict) -> dict[str, tuple[bool, str]]:
    """The keys whose expectation depends on others (sizes, the prior's order)."""
    n_params, n_bins = len(doc["param_names"]), len(doc["r"])
    n_data = len(doc["statistics"]) * n_bins
    prior = doc.get("prior")
    lo, hi = (prior.get("lo"), prior.get("hi")) if isinstance(prior, dict) else (None, None)
    ordered = (_numbers(lo, n_params) and _numbers(hi, n_params)
               and all(a < b for a, b in zip(lo, hi, strict=True)))
    sc = doc["scalers"]
    table = [_numbers(sc.get(k), n_params) for k in ("prior_lo", "prior_hi")]
    table += [isinstance(sc.get(k), list) and len(sc[k]) == len(doc["statistics"])
              and all(_numbers(row, n_bins) for row in sc[k]) for k in ("center", "scale")]
    return {
        "scalers": (all(table), f"an object with prior_lo, prior_hi ({n_params} numbers each) and center, "
                                f"scale ({len(doc['statistics'])} x {n_bins} numbers each)"),
        "prior": (ordered,
                  f"an object with lo and hi: {n_params} finite numbers each, lo < hi"),
        "r_edges": (doc.get("r_edges") is None or _increasing(doc["r_edges"], n_bins + 1),
                    f"null or {n_bins + 1} positive, increasing bin edges (Mpc/h)"),
        "transforms": (isinstance(doc.get("transforms"), dict)
                       and all(doc["transforms"].get(s) in TRANSFORMS for s in doc["statistics"]),
                       f"an object giving each statistic one of {', '.join(TRANSFORMS)}"),
        "noise": (doc.get("noise") is None or (isinstance(doc["noise"], dict)
                                               and _matrix(doc["noise"].get("correlation"))
                                               and len(doc["noise"]["correlation"]) == n_data),
                  f"null or an object with a {n_data} x {n_data} correlation"),
        "emulator_error": (doc.get("emulator_error") is None or (
            isinstance(doc["emulator_error"], dict) and _matrix(doc["emulator_error"].get("covariance"))
            and len(doc["emulator_error"]["covariance"]) == n_data
            and _amplitude(doc["emulator_error"].get("amplitude"), n_params)
            and _calibration(doc["emulator_error"].get("covariance_scale"), doc["param_names"])),
            f"null or an object with a {n_data} x {n_data} covariance, and, if any, an amplitude with "
            f"{n_params + 1} coefficients and a covariance_scale with value > 0 and a parameter_variance "
            "≥ 0 for every parameter"),
    }


def check_emulator_doc(doc: Any, path: str | os.PathLike[str]) -> dict:
    """``doc`` (the parsed ``emulator.json`` at ``path``) checked against the schema; returns it."""
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a JSON object, got a JSON {type(doc).__name__}")
    if doc.get("format") != FORMAT or doc.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path}: format: expected {FORMAT} version {FORMAT_VERSION}")
    for key, (test, expected) in _TOP.items():
        if key not in doc:
            raise InputError(f"{path}: {key}: missing; expected {expected}")
        if not test(doc[key]):
            raise InputError(f"{path}: {key}: expected {expected}")
    for key, (ok, expected) in _dependent(doc).items():
        if not ok:
            raise InputError(f"{path}: {key}: expected {expected}")
    return doc


def read_emulator_json(directory: str | os.PathLike[str]) -> dict:
    """The checked ``emulator.json`` of the artifact ``directory``; InputError naming the file and key."""
    directory = Path(directory)
    path = directory / EMULATOR_JSON
    for name in (EMULATOR_JSON, WEIGHTS):
        if not (directory / name).is_file():
            raise InputError(f"{directory}: {name} missing (not an emulator artifact: expected "
                             f"{EMULATOR_JSON} and {WEIGHTS})")
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    return check_emulator_doc(doc, path)
