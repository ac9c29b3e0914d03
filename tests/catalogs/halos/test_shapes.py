"""Inertia-tensor shapes: a constructed ellipsoidal blob, and the N-body halos' alignment with neighbours."""

import numpy as np
from scipy.spatial.transform import Rotation

from catalogs.halos.fof import describe_groups
from catalogs.halos.shapes import inertia_tensors, principal_axes

SEMI_AXES = np.array([3.0, 1.5, 0.75])


def ellipsoid_blob(n: int, rotation: Rotation, centre: np.ndarray, box: float, seed: int) -> np.ndarray:
    """Uniform points inside the rotated ellipsoid with SEMI_AXES, around `centre`, wrapped."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1, 1, size=(3 * n, 3))
    points = points[np.sum(points**2, axis=1) <= 1][:n] * SEMI_AXES
    return np.mod(rotation.apply(points) + centre, box)


def test_major_axis_of_an_ellipsoidal_blob_is_recovered() -> None:
    box = 100.0
    for seed in range(3):
        rotation = Rotation.random(random_state=seed)
        centre = np.array([99.0, 0.5, 50.0])  # straddles two faces of the periodic box
        positions = ellipsoid_blob(20000, rotation, centre, box, seed)
        groups = describe_groups(positions, np.zeros(len(positions), dtype=np.int64), box)
        lengths, axes = principal_axes(inertia_tensors(groups.offsets, groups.sizes))
        for k in range(3):
            truth = rotation.apply(np.eye(3)[k])
            angle = np.degrees(np.arccos(min(1.0, abs(axes[0, k] @ truth))))
            assert angle < 1.0, (seed, k, angle)
        # sqrt(5 lambda) are the semi-axes of a uniform ellipsoid
        np.testing.assert_allclose(lengths[0], SEMI_AXES, rtol=0.02)
        np.testing.assert_allclose(np.linalg.norm(axes[0], axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(groups.centres[0], np.mod(centre, box), atol=0.05)


def test_axes_are_orthonormal_and_ordered_for_many_groups() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(20, 60, size=50)
    offsets = rng.normal(size=(sizes.sum(), 3)) * rng.uniform(0.1, 2.0, size=3)
    lengths, axes = principal_axes(inertia_tensors(offsets, sizes))
    assert np.all(np.diff(lengths, axis=1) <= 0)
    np.testing.assert_allclose(
        axes @ np.transpose(axes, (0, 2, 1)), np.broadcast_to(np.eye(3), axes.shape), atol=1e-10
    )
    # each tensor equals its eigen-decomposition
    tensors = inertia_tensors(offsets, sizes)
    rebuilt = np.einsum("gki,gk,gkj->gij", axes, lengths**2 / 5.0, axes)
    np.testing.assert_allclose(rebuilt, tensors, atol=1e-10)
