"""File and array digests: the identities recorded in fit summaries and artifacts."""

import hashlib
from pathlib import Path

import numpy as np

from common.hashing import hash_arrays, hash_files


def test_file_hash_follows_content(tmp_path: Path) -> None:
    one, two = tmp_path / "1", tmp_path / "2"
    one.write_bytes(b"abc")
    two.write_bytes(b"abd")
    assert hash_files(one) == hashlib.sha256(b"abc").hexdigest() != hash_files(two)


def test_array_hash_sees_values_dtype_and_shape() -> None:
    a = np.arange(6.0)
    assert hash_arrays(a) == hash_arrays(a.copy())
    variants = (a, a + 1, a.astype(np.float32), a.reshape(2, 3))
    assert len({hash_arrays(v) for v in variants}) == 4
    assert hash_arrays(a, a[:2]) != hash_arrays(a[:2], a)  # order matters
