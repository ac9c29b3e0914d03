"""Optional detector-like smearing of particle four-momenta (`toptag generate --smear`); energies in GeV.

Resolution model: every visible particle's four-momentum is multiplied by (1 + r g), g ~ N(0, 1), which keeps
its direction and its m/E; the relative resolution r(E) = sqrt(a^2 / E + b^2 + (c E)^2) (E in GeV) is
    photons and electrons (electromagnetic calorimeter):  a = 0.10, b = 0.01,  c = 0
    other neutral hadrons (hadronic calorimeter):          a = 0.50, b = 0.05,  c = 0
    charged hadrons and muons (tracker-like):              a = 0,    b = 0.005, c = 1e-4 / GeV
The factor is floored at 0.01 so that no energy turns negative.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

ELECTROMAGNETIC = (0.10, 0.01, 0.0)
HADRONIC = (0.50, 0.05, 0.0)
TRACKER = (0.0, 0.005, 1e-4)
_MIN_FACTOR = 0.01


def relative_resolution(energy: np.ndarray, pid: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """sigma(E) / E of each particle under the model above (energy in GeV)."""
    pid_abs = np.abs(pid)
    em = (pid_abs == 22) | (pid_abs == 11)
    charged = (charge != 0) & ~em
    params = np.where(em[:, None], ELECTROMAGNETIC, np.where(charged[:, None], TRACKER, HADRONIC))
    a, b, c = params.T
    return np.sqrt(a**2 / np.maximum(energy, 1e-9) + b**2 + (c * energy) ** 2)


def smear(particles: ak.Array, rng: np.random.Generator) -> ak.Array:
    """Return `particles` (jagged px, py, pz, E, pid, charge) with four-momenta smeared by the model above."""
    counts = ak.num(particles)
    flat = {name: ak.to_numpy(ak.flatten(particles[name])) for name in particles.fields}
    sigma = relative_resolution(flat["E"], flat["pid"], flat["charge"])
    factor = np.maximum(1.0 + sigma * rng.standard_normal(sigma.shape), _MIN_FACTOR)
    for name in ("px", "py", "pz", "E"):
        flat[name] = flat[name] * factor
    return ak.zip({name: ak.unflatten(values, counts) for name, values in flat.items()})
