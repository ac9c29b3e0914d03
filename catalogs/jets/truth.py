"""Truth matching of jets to Pythia partons, vectorised over events in numpy (GeV, radians).

Entries 5 and 6 of a Pythia event record are the two outgoing partons of the 2 -> 2 hard process. For top
events they are t and tbar: each is followed down its copies (the daughter with its own id, after recoil or
gluon emission) to the last one, which decays; its decay partons are the b quark (first copy) and the two
quarks from the W's last copy. For QCD events the partons are taken as they leave the hard process.
Distances are dR = sqrt(deta^2 + dphi^2) in pseudorapidity and azimuth, measured from the jet axis.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

_HARD_OUTGOING = np.array([5, 6])


def delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """dR between directions (eta1, phi1) and (eta2, phi2); broadcasts."""
    dphi = np.mod(np.asarray(phi1) - np.asarray(phi2) + np.pi, 2 * np.pi) - np.pi
    return np.hypot(np.asarray(eta1) - np.asarray(eta2), dphi)


class EventRecord:
    """The event records of a batch as flat numpy arrays; mother/daughter links become flat positions."""

    def __init__(self, prt: ak.Array) -> None:
        counts = ak.to_numpy(ak.num(prt))
        self.offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        owner = np.repeat(self.offsets, counts)

        def flat(values: ak.Array) -> np.ndarray:
            return ak.to_numpy(ak.flatten(values))

        self.pid = flat(prt.id)
        self.daughter1 = flat(prt.daughter1) + owner
        self.daughter2 = flat(prt.daughter2) + owner
        px, py, pz = flat(prt.p.px), flat(prt.p.py), flat(prt.p.pz)
        self.pt = np.hypot(px, py)
        self.eta = np.arcsinh(pz / np.maximum(self.pt, 1e-12))
        self.phi = np.arctan2(py, px)
        # the next copy of a particle is its first or last daughter with the same id (recoil or emission)
        positions = np.arange(len(self.pid))
        has_daughter = self.daughter1 > owner
        last = positions.copy()
        for daughter in (self.daughter2, self.daughter1):  # daughter1 wins when both qualify
            same = has_daughter & (self.pid[np.where(has_daughter, daughter, positions)] == self.pid)
            last = np.where(same, daughter, last)
        while not np.array_equal(last[last], last):
            last = last[last]
        self.last_copy = last

    def hard_partons(self, last_copy: bool) -> np.ndarray:
        """(n_events, 2) flat positions of the two outgoing hard-process partons (first or last copies)."""
        first = self.offsets[:, None] + _HARD_OUTGOING
        return self.last_copy[first] if last_copy else first

    def kinematics(self, index: np.ndarray) -> dict[str, np.ndarray]:
        """pid, pT, eta, phi of the particles at flat positions `index` (any shape)."""
        return {
            "pid": self.pid[index].astype(np.int32),
            "pt": self.pt[index],
            "eta": self.eta[index],
            "phi": self.phi[index],
        }


def _pick(values: dict[str, np.ndarray], choice: np.ndarray) -> dict[str, np.ndarray]:
    rows = np.arange(len(choice))
    return {name: array[rows, choice] for name, array in values.items()}


def match_top(
    record: EventRecord, jet_eta: np.ndarray, jet_phi: np.ndarray, radius: float
) -> dict[str, np.ndarray]:
    """Match each jet to a top whose decay quarks (b, q, q') all lie within `radius` of the jet axis.

    Returns `matched` (bool per event) and the truth of the chosen top (the matched one, else the nearer):
    `genpart_*` (pid, pt, eta, phi, dr) and `decay_*` (n_events, 3) for b, q, q'.
    """
    tops = record.hard_partons(last_copy=True)
    first, second = record.daughter1[tops], record.daughter2[tops]
    w_first = np.abs(record.pid[first]) == 24
    w_boson = record.last_copy[np.where(w_first, first, second)]
    b_quark = np.where(w_first, second, first)
    top = record.kinematics(tops)
    quarks = np.stack([b_quark, record.daughter1[w_boson], record.daughter2[w_boson]], axis=-1)
    decay = record.kinematics(quarks)  # (n_events, 2 tops, 3 quarks)
    top_dr = delta_r(top["eta"], top["phi"], jet_eta[:, None], jet_phi[:, None])
    quark_dr = delta_r(decay["eta"], decay["phi"], jet_eta[:, None, None], jet_phi[:, None, None])
    contained = (top_dr < radius) & np.all(quark_dr < radius, axis=-1)
    choice = np.where(contained.any(axis=1), np.argmax(contained, axis=1), np.argmin(top_dr, axis=1))
    result = {f"genpart_{name}": values for name, values in _pick(top, choice).items()}
    result["genpart_dr"] = _pick({"dr": top_dr}, choice)["dr"]
    result.update({f"decay_{name}": values for name, values in _pick(decay, choice).items()})
    result["matched"] = _pick({"ok": contained}, choice)["ok"]
    return result


def nearest_parton(record: EventRecord, jet_eta: np.ndarray, jet_phi: np.ndarray) -> dict[str, np.ndarray]:
    """The outgoing hard-process parton nearest to each jet axis: `genpart_*` (pid, pt, eta, phi, dr)."""
    partons = record.kinematics(record.hard_partons(last_copy=False))
    dr = delta_r(partons["eta"], partons["phi"], jet_eta[:, None], jet_phi[:, None])
    choice = np.argmin(dr, axis=1)
    result = {f"genpart_{name}": values for name, values in _pick(partons, choice).items()}
    result["genpart_dr"] = dr[np.arange(len(choice)), choice]
    return result
