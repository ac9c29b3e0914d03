"""SHA-256 digests that identify inputs in the outputs that depend on them (fit summaries, artifacts)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np


def hash_arrays(*arrays: Any) -> str:
    """sha256 hex digest of the arrays' dtypes, shapes and bytes, in order."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def hash_files(*paths: str | os.PathLike[str]) -> str:
    """sha256 hex digest of the files' bytes, in order (one file: the usual ``sha256sum``)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
