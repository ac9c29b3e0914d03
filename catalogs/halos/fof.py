"""Friends-of-friends groups in a periodic box (Davis et al. 1985).

Two particles are friends when closer than the linking length (b times the mean interparticle separation);
groups are the connected components of the friendship graph. Pairs come from scipy's periodic cKDTree and
the components from scipy.sparse.csgraph, so memory grows with the number of pairs, O(N n_neighbours),
never O(N^2). Lengths in comoving Mpc/h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from common.errors import InputError


def friends_of_friends(
    positions: np.ndarray, box: float, linking_length: float, min_members: int = 20
) -> np.ndarray:
    """Group label of each particle: 0, 1, ... by decreasing size (ties: lowest particle index), -1 outside.

    `positions` (N, 3) in [0, box) Mpc/h; groups with fewer than `min_members` particles are dropped.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise InputError(f"positions: shape {positions.shape}: expected (N, 3)")
    if positions.size and (positions.min() < 0 or positions.max() >= box):
        raise InputError(f"positions: expected coordinates in [0, {box}) Mpc/h")
    n = len(positions)
    pairs = cKDTree(positions, boxsize=box).query_pairs(linking_length, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    del pairs
    _, components = connected_components(graph, directed=False)
    sizes = np.bincount(components)
    first = np.unique(components, return_index=True)[1]  # each group's lowest particle index
    kept = np.flatnonzero(sizes >= min_members)
    order = kept[np.lexsort((first[kept], -sizes[kept]))]
    relabel = np.full(len(sizes), -1, dtype=np.int64)
    relabel[order] = np.arange(len(order))
    return relabel[components]


@dataclass
class Groups:
    """Members of each group: `members` (particle indices sorted by group, the group's lowest index first),
    `starts` (G + 1,) offsets into `members`, `centres` (G, 3) periodic-aware centres of mass in [0, box)
    Mpc/h and `offsets` (len(members), 3) member positions relative to their centre, unwrapped (Mpc/h)."""

    members: np.ndarray
    starts: np.ndarray
    centres: np.ndarray
    offsets: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        """Particles per group."""
        return np.diff(self.starts)

    def mean(self, values: np.ndarray) -> np.ndarray:
        """Per-group mean (G, k) of per-member `values` (len(members), k)."""
        group = np.repeat(np.arange(len(self.sizes)), self.sizes)
        sums = [
            np.bincount(group, weights=values[:, i], minlength=len(self.sizes))
            for i in range(values.shape[1])
        ]
        return np.stack(sums, axis=1) / self.sizes[:, None]


def describe_groups(positions: np.ndarray, labels: np.ndarray, box: float) -> Groups:
    """Members, centres and unwrapped offsets of the groups labelled 0..G-1 (exact for groups < box/2)."""
    members = np.flatnonzero(labels >= 0)
    members = members[np.argsort(labels[members], kind="stable")]
    n_groups = int(labels.max()) + 1 if len(members) else 0
    starts = np.concatenate([[0], np.cumsum(np.bincount(labels[members], minlength=n_groups))]).astype(
        np.int64
    )
    reference = np.repeat(positions[members[starts[:-1]]], np.diff(starts), axis=0)
    offsets = positions[members] - reference
    offsets -= box * np.round(offsets / box)
    groups = Groups(members, starts, np.zeros((n_groups, 3)), offsets)
    shift = groups.mean(offsets)
    groups.offsets = offsets - np.repeat(shift, groups.sizes, axis=0)
    centres = np.mod(positions[members[starts[:-1]]] + shift, box)
    centres[centres >= box] = 0.0
    groups.centres = centres
    return groups
