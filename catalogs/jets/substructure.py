"""Jet substructure with FastJet (GeV, radians): soft-drop mass and N-subjettiness.

- Soft-drop mass (Larkoski et al. 2014; beta = 0, z_cut = 0.1, R0 = 0.8): the jet's constituents are
  reclustered with Cambridge/Aachen into one jet, which is declustered along the harder (larger-pT) branch
  until a splitting has min(pT1, pT2) / (pT1 + pT2) > z_cut (dR12 / R0)^beta; the mass of that branch.
  One FastJet ClusterSequence per jet: measured 5x faster here than the batched contrib call in fastjet 3.5
  (`exclusive_jets_softdrop_grooming`, whose cost grows with the whole input buffer), with identical masses.
- N-subjettiness tau_N (Thaler & Van Tilburg 2011) with exclusive-kT subjet axes, in numpy over all jets:
  tau_N = sum_i pT_i min_k dR(i, axis_k) / (sum_i pT_i R0), dR in rapidity and azimuth.
"""

from __future__ import annotations

import warnings

import awkward as ak
import numpy as np

# kT axes: one jet's constituents clustered exclusively with R = pi / 2 (FastJet contrib's KT_Axes).
_KT_AXES_RADIUS = np.pi / 2
# Soft drop reclusters with the largest R FastJet allows, so that no particle merges with the beam.
_RECLUSTER_RADIUS = 1000.0


def _flat_four_vectors(constituents: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """(n_particles, 4) float64 px, py, pz, E and the per-jet offsets into it."""
    counts = ak.to_numpy(ak.num(constituents))
    flat = [ak.to_numpy(ak.flatten(constituents[name])) for name in ("px", "py", "pz", "E")]
    p4 = np.stack(flat, axis=1).astype(np.float64) if len(counts) else np.zeros((0, 4))
    return p4, np.concatenate([[0], np.cumsum(counts)])


def softdrop_mass(
    constituents: ak.Array, z_cut: float = 0.1, beta: float = 0.0, r0: float = 0.8
) -> np.ndarray:
    """Soft-drop groomed mass (GeV) of each jet given its constituents (jagged px, py, pz, E in GeV)."""
    import fastjet

    p4, offsets = _flat_four_vectors(constituents)
    definition = fastjet.JetDefinition(fastjet.cambridge_algorithm, _RECLUSTER_RADIUS)
    masses = np.zeros(len(offsets) - 1)
    for jet, (start, stop) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)):
        if stop == start:
            continue
        sequence = fastjet.ClusterSequence(
            [fastjet.PseudoJet(*row) for row in p4[start:stop].tolist()], definition
        )
        branch = sequence.exclusive_jets(1)[0]
        harder, softer = fastjet.PseudoJet(), fastjet.PseudoJet()
        while branch.has_parents(harder, softer):
            if harder.pt() < softer.pt():
                harder, softer = softer, harder
            z = softer.pt() / (harder.pt() + softer.pt())
            if z > z_cut * (harder.delta_R(softer) / r0) ** beta:
                break
            branch, harder, softer = harder, fastjet.PseudoJet(), fastjet.PseudoJet()
        masses[jet] = branch.m()
    return masses


def _rapidity_phi(px: ak.Array, py: ak.Array, pz: ak.Array, energy: ak.Array) -> tuple[ak.Array, ak.Array]:
    rapidity = 0.5 * np.log(np.maximum(energy + pz, 1e-12) / np.maximum(energy - pz, 1e-12))
    return rapidity, np.arctan2(py, px)


def kt_axes(constituents: ak.Array, n: int) -> ak.Array:
    """The `n` exclusive-kT subjets (jagged px, py, pz, E) of each jet; every jet needs >= n constituents."""
    import fastjet

    definition = fastjet.JetDefinition(fastjet.kt_algorithm, _KT_AXES_RADIUS)
    momenta = ak.zip(
        {name: ak.values_astype(constituents[name], np.float64) for name in ("px", "py", "pz", "E")}
    )
    sequence = fastjet.ClusterSequence(momenta, definition)
    with warnings.catch_warnings():  # fastjet 3.5's guard compares a JetDefinition with ints: always warns
        warnings.filterwarnings("ignore", message="dcut and exclusive jets")
        return sequence.exclusive_jets(n_jets=n)


def nsubjettiness(constituents: ak.Array, n: int, r0: float = 0.8) -> np.ndarray:
    """tau_N of each jet (dimensionless); jets with fewer than `n` constituents get tau_N = 0."""
    enough = ak.to_numpy(ak.num(constituents)) >= n
    result = np.zeros(len(enough))
    if not enough.any():
        return result
    parts = constituents[enough]
    axes = kt_axes(parts, n)
    y, phi = _rapidity_phi(parts.px, parts.py, parts.pz, parts.E)
    axis_y, axis_phi = _rapidity_phi(axes.px, axes.py, axes.pz, axes.E)
    dphi = np.mod(phi[:, :, None] - axis_phi[:, None, :] + np.pi, 2 * np.pi) - np.pi
    distance = np.sqrt((y[:, :, None] - axis_y[:, None, :]) ** 2 + dphi**2)
    pt = np.hypot(parts.px, parts.py)
    numerator = ak.sum(pt * ak.min(distance, axis=2), axis=1)
    result[enough] = ak.to_numpy(numerator / (ak.sum(pt, axis=1) * r0))
    return result
