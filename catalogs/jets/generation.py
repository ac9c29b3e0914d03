"""Pythia 8 events for top and QCD jets (docs/ARCHITECTURE.md 4.5): settings, seeds, visible final-state
particles.

Energies and momenta in GeV. Events come from `pythia8mc.Pythia.nextBatch` as awkward arrays, so nothing
here loops over particles in Python.
"""

from __future__ import annotations

import dataclasses

import awkward as ak
import numpy as np

from common.errors import InputError

PROCESSES = ("top", "qcd")
# Signal: t tbar with both W bosons decaying to quarks; background: all 2 -> 2 QCD processes.
_PROCESS_SETTINGS = {
    "top": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"),
    "qcd": ("HardQCD:all = on",),
}
_MAX_PYTHIA_SEED = 900_000_000  # Random:seed accepts 1 .. 900 000 000


@dataclasses.dataclass(frozen=True)
class JetConfig:
    """Generation and selection settings (GeV). The pT-hat window brackets the jet pT window."""

    process: str
    mpi: bool = False
    smear: bool = False
    ecm: float = 14000.0
    pthat_min: float = 550.0
    pthat_max: float = 700.0
    pt_min: float = 550.0
    pt_max: float = 650.0
    eta_max: float = 2.0
    radius: float = 0.8
    max_particles: int = 200

    def __post_init__(self) -> None:
        if self.process not in PROCESSES:
            raise InputError(f"process: {self.process!r}: expected one of {', '.join(PROCESSES)}")
        if not 0 <= self.pthat_min < self.pthat_max or not 0 <= self.pt_min < self.pt_max:
            raise InputError("jet config: pT windows: expected 0 <= min < max")
        if self.max_particles < 1 or self.radius <= 0 or self.eta_max <= 0:
            raise InputError("jet config: max_particles, radius and eta_max must be positive")

    def pythia_settings(self) -> list[str]:
        """The Pythia `readString` lines for this configuration (without the seed)."""
        return [
            "Print:quiet = on",
            f"Beams:eCM = {self.ecm}",
            f"PhaseSpace:pTHatMin = {self.pthat_min}",
            f"PhaseSpace:pTHatMax = {self.pthat_max}",
            f"PartonLevel:MPI = {'on' if self.mpi else 'off'}",
            *_PROCESS_SETTINGS[self.process],
        ]


def chunk_seed(seed: int, chunk: int) -> int:
    """Pythia's `Random:seed` for chunk `chunk` of a run seeded with `seed` (independent streams)."""
    state = np.random.SeedSequence([seed, chunk]).generate_state(1, dtype=np.uint64)[0]
    return int(state % _MAX_PYTHIA_SEED) + 1


class EventSource:
    """An initialised Pythia instance that hands out batches of events and their visible particles."""

    def __init__(self, config: JetConfig, pythia_seed: int) -> None:
        import pythia8mc  # heavy C++ module: imported when generation starts

        self.pythia = pythia8mc.Pythia("", False)
        for line in [*config.pythia_settings(), "Random:setSeed = on", f"Random:seed = {pythia_seed}"]:
            if not self.pythia.readString(line):
                raise RuntimeError(f"Pythia rejected the setting {line!r}")
        if not self.pythia.init():
            raise RuntimeError("Pythia initialisation failed")
        self._charges: dict[int, float] = {}

    def events(self, n: int) -> ak.Array:
        """The event records (field `prt`: id, status, mothers, daughters, p) of `n` generated events."""
        return self.pythia.nextBatch(n, "skip").prt

    def charges(self, pid: np.ndarray) -> np.ndarray:
        """Electric charge (units of e) of each PDG id in `pid`, from Pythia's particle table."""
        unique, inverse = np.unique(pid, return_inverse=True)
        for code in unique.tolist():
            if code not in self._charges:
                self._charges[code] = self.pythia.particleData.charge(code)
        table = np.array([self._charges[code] for code in unique.tolist()], dtype=np.float64)
        return table[inverse].reshape(pid.shape)


def visible_particles(source: EventSource, prt: ak.Array) -> ak.Array:
    """Final-state particles without neutrinos: jagged records px, py, pz, E (GeV), pid, charge (e)."""
    pid_abs = abs(prt.id)
    final = prt[(prt.status > 0) & (pid_abs != 12) & (pid_abs != 14) & (pid_abs != 16)]
    counts = ak.num(final)
    pid = ak.to_numpy(ak.flatten(final.id))
    charge = ak.unflatten(source.charges(pid), counts)
    return ak.zip(
        {
            "px": final.p.px,
            "py": final.p.py,
            "pz": final.p.pz,
            "E": final.p.e,
            "pid": final.id,
            "charge": charge,
        }
    )
