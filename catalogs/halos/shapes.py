"""Halo shapes from the second-moment (inertia) tensor of the member particles.

For each group, M_ij = <d_i d_j> over its particles' offsets d from the centre (Mpc/h). Its eigenvectors are
the principal axes; the axis lengths are sqrt(5 lambda), the semi-axes of the uniform ellipsoid with the same
second moments, ordered A >= B >= C. Each unit axis is signed so that its largest component is positive.
"""

from __future__ import annotations

import numpy as np


def inertia_tensors(offsets: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """(G, 3, 3) second-moment tensors of consecutive runs of `sizes` rows of `offsets` (len, 3)."""
    group = np.repeat(np.arange(len(sizes)), sizes)
    tensors = np.empty((len(sizes), 3, 3))
    for i in range(3):
        for j in range(i, 3):
            moment = np.bincount(group, weights=offsets[:, i] * offsets[:, j], minlength=len(sizes)) / sizes
            tensors[:, i, j] = tensors[:, j, i] = moment
    return tensors


def principal_axes(tensors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lengths (G, 3) as A >= B >= C in Mpc/h, unit axes (G, 3, 3) with axes[:, k] the k-th axis vector)."""
    eigenvalues, eigenvectors = np.linalg.eigh(tensors)  # ascending
    lengths = np.sqrt(5.0 * np.clip(eigenvalues[:, ::-1], 0.0, None))
    axes = np.transpose(eigenvectors[:, :, ::-1], (0, 2, 1))
    largest = np.take_along_axis(axes, np.abs(axes).argmax(axis=2)[:, :, None], axis=2)
    return lengths, axes * np.sign(largest)
