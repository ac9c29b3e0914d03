"""From Pythia events to selected jets (docs/ARCHITECTURE.md 4.5), vectorised over events; momenta in GeV.

Anti-kT (R = 0.8) on the visible final-state particles; the leading jet must have pt_min < pT < pt_max and
|eta| < eta_max; a top jet must also contain the top and its three decay quarks (dR < R, `jet_truth`). The
jet_* quantities describe the whole jet; its constituents are stored pT-ordered, at most `max_particles`.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from catalogs.jets.generation import JetConfig
from catalogs.jets.substructure import softdrop_mass
from catalogs.jets.truth import EventRecord, match_top, nearest_parton

LABELS = {"top": "label_Tbqq", "qcd": "label_QCD"}


def _cluster_leading(particles: ak.Array, config: JetConfig) -> tuple[ak.Array, ak.Array]:
    """Each event's leading anti-kT jet above pt_min (or None) and the positions of its constituents."""
    import fastjet

    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, config.radius)
    momenta = ak.zip({name: particles[name] for name in ("px", "py", "pz", "E")})
    sequence = fastjet.ClusterSequence(momenta, definition)
    jets = sequence.inclusive_jets(min_pt=config.pt_min)
    members = sequence.constituent_index(min_pt=config.pt_min)
    leading = ak.argmax(np.hypot(jets.px, jets.py), axis=1, keepdims=True)
    return ak.firsts(jets[leading]), ak.firsts(members[leading])


def jet_kinematics(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, energy: np.ndarray
) -> dict[str, np.ndarray]:
    """pT, pseudorapidity eta, azimuth phi, energy and mass (GeV) of four-vectors."""
    pt = np.hypot(px, py)
    mass2 = energy**2 - px**2 - py**2 - pz**2
    return {
        "pt": pt,
        "eta": np.arcsinh(pz / np.maximum(pt, 1e-12)),
        "phi": np.arctan2(py, px),
        "energy": energy,
        "mass": np.sqrt(np.maximum(mass2, 0.0)),
    }


def _ordered_constituents(particles: ak.Array, members: ak.Array) -> ak.Array:
    constituents = particles[members]
    order = ak.argsort(np.hypot(constituents.px, constituents.py), axis=1, ascending=False, stable=True)
    return constituents[order]


def select_jets(prt: ak.Array, particles: ak.Array, config: JetConfig) -> dict[str, Any]:
    """The branches (rootio names) of the jets passing the selection, one per accepted event.

    `prt` is the Pythia event record and `particles` the visible final state of the same events.
    """
    jets, members = _cluster_leading(particles, config)
    found = ~ak.to_numpy(ak.is_none(jets))
    jets, members = ak.drop_none(jets[found], axis=0), ak.drop_none(members[found], axis=0)
    prt, particles = prt[found], particles[found]
    kin = jet_kinematics(*(ak.to_numpy(ak.fill_none(jets[name], 0.0)) for name in ("px", "py", "pz", "E")))
    record = EventRecord(prt)
    keep = (kin["pt"] > config.pt_min) & (kin["pt"] < config.pt_max) & (np.abs(kin["eta"]) < config.eta_max)
    if config.process == "top":
        truth = match_top(record, kin["eta"], kin["phi"], config.radius)
        keep &= truth.pop("matched")
    else:
        truth = nearest_parton(record, kin["eta"], kin["phi"])
        n_jets = len(kin["pt"])
        truth.update({"decay_pid": np.zeros((n_jets, 3), np.int32)})
        truth.update({f"decay_{name}": np.full((n_jets, 3), np.nan) for name in ("pt", "eta", "phi")})
    constituents = _ordered_constituents(particles[keep], members[keep])
    stored = constituents[:, : config.max_particles]
    n_kept = int(np.count_nonzero(keep))
    branches: dict[str, Any] = {
        "part_px": stored.px,
        "part_py": stored.py,
        "part_pz": stored.pz,
        "part_energy": stored.E,
        "part_charge": ak.values_astype(np.round(stored.charge), np.int32),
        "part_pid": stored.pid,
        **{f"jet_{name}": values[keep] for name, values in kin.items()},
        "jet_sdmass": softdrop_mass(constituents, r0=config.radius),
        "jet_nparticles": ak.to_numpy(ak.num(stored)),
    }
    for process, label in LABELS.items():
        branches[label] = np.full(n_kept, process == config.process)
    branches["aux_nparticles_all"] = ak.to_numpy(ak.num(constituents))
    branches.update({f"aux_{name}": values[keep] for name, values in truth.items()})
    return branches
