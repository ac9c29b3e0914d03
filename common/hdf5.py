"""Numeric HDF5 datasets read with a one-line InputError naming the file and the dataset
(docs/ARCHITECTURE.md 2): a missing dataset, a group, strings or records where numbers are expected."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from common.errors import InputError


def numeric_dataset(h5: Any, path: str | os.PathLike[str], name: str, missing: str = "missing") -> np.ndarray:
    """The dataset ``/name`` of the open h5py file ``h5`` as a float64 (or bool) array; InputError naming
    ``path`` and ``/name`` if it is absent (``missing`` says what it should hold), a group, or not numeric."""
    if name not in h5:
        raise InputError(f"{path}: /{name}: {missing}")
    node = h5[name]
    dtype = getattr(node, "dtype", None)
    if dtype is None:
        raise InputError(f"{path}: /{name}: is a group; expected a numeric dataset")
    if dtype.kind not in "biuf":
        raise InputError(f"{path}: /{name}: holds {dtype} values; expected numbers")
    values = node[()]
    return np.asarray(values) if dtype.kind == "b" else np.asarray(values, dtype=np.float64)


def check_increasing(values: np.ndarray, path: str | os.PathLike[str], name: str, *,
                     positive: bool = True) -> None:
    """InputError naming ``path`` and ``/name`` unless ``values`` is 1-D, finite, strictly increasing (and
    positive): radii and bin edges, in Mpc/h."""
    values = np.asarray(values)
    ok = values.ndim == 1 and np.all(np.isfinite(values)) and np.all(np.diff(values) > 0)
    if not ok or (positive and values.size and values.min() <= 0):
        raise InputError(f"{path}: /{name}: expected finite{', positive' if positive else ''}, strictly "
                         "increasing values (Mpc/h)")
