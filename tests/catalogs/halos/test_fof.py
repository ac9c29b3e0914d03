"""Friends-of-friends on constructed particle sets whose groups are known exactly."""

import itertools

import numpy as np
import pytest

from catalogs.halos.fof import describe_groups, friends_of_friends
from common.errors import InputError

BOX = 10.0
LINK = 0.15


def cube(
    corner: tuple[float, float, float], counts: tuple[int, int, int], spacing: float = 0.1
) -> np.ndarray:
    """A lattice of points with the given spacing (< LINK, so all are friends), not yet wrapped."""
    grid = itertools.product(*(range(c) for c in counts))
    return np.array([[corner[i] + spacing * g[i] for i in range(3)] for g in grid])


def constructed_set() -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Positions, the expected member index sets (by decreasing size) and all unwrapped positions."""
    groups = [
        cube((2.0, 2.0, 2.0), (4, 4, 2)),  # 32 particles
        cube((9.85, 4.9, 4.9), (3, 3, 3)),  # 27 particles across the x = 0 = BOX boundary
        cube((6.0, 7.0, 9.95), (3, 2, 4)),  # 24 particles across the z boundary
        cube((5.0, 1.0, 5.0), (2, 2, 2)),  # 8 particles: below the 20-member cut
    ]
    background = np.array(
        [
            p
            for p in itertools.product(np.arange(0.5, BOX, 1.0), repeat=3)
            if all(np.min(np.linalg.norm(g - np.array(p), axis=1)) > 0.5 for g in groups)
        ]
    )
    unwrapped = groups + [background]
    unwrapped_all = np.concatenate(unwrapped)
    positions = np.mod(unwrapped_all, BOX)
    rng = np.random.default_rng(3)
    order = rng.permutation(len(positions))  # shuffle so that group order is not index order
    inverse = np.argsort(order)
    positions = positions[order]
    starts = np.cumsum([0] + [len(g) for g in unwrapped])
    members = [np.sort(inverse[starts[i] : starts[i + 1]]) for i in range(3)]
    return positions, members, unwrapped_all[order]


def test_groups_masses_and_centres_are_exact() -> None:
    positions, expected_members, unwrapped = constructed_set()
    labels = friends_of_friends(positions, BOX, LINK, min_members=20)
    assert labels.max() == 2 and (labels >= 0).sum() == 32 + 27 + 24
    for group, members in enumerate(expected_members):
        np.testing.assert_array_equal(np.flatnonzero(labels == group), members)
    groups = describe_groups(positions, labels, BOX)
    np.testing.assert_array_equal(groups.sizes, [32, 27, 24])
    expected_centres = np.mod([unwrapped[m].mean(axis=0) for m in expected_members], BOX)
    np.testing.assert_allclose(groups.centres, expected_centres, atol=1e-12)
    assert np.all((groups.centres >= 0) & (groups.centres < BOX))
    for group, members in enumerate(expected_members):  # offsets are relative to the centre, unwrapped
        rows = slice(groups.starts[group], groups.starts[group + 1])
        np.testing.assert_array_equal(groups.members[rows], members)
        expected = unwrapped[members] - unwrapped[members].mean(axis=0)
        np.testing.assert_allclose(groups.offsets[rows], expected, atol=1e-12)


def test_linking_is_strict_about_the_length() -> None:
    # a chain of 20 particles spaced just below the linking length is one group; just above, none
    for spacing, n_groups in ((LINK * 0.999, 1), (LINK * 1.001, 0)):
        positions = np.mod(
            np.column_stack([9.0 + spacing * np.arange(20), np.full(20, 5.0), np.full(20, 5.0)]), BOX
        )
        labels = friends_of_friends(positions, BOX, LINK, min_members=20)
        assert labels.max() + 1 == n_groups


def test_positions_outside_the_box_are_refused() -> None:
    with pytest.raises(InputError, match="positions"):
        friends_of_friends(np.array([[0.0, 0.0, BOX]]), BOX, LINK)
