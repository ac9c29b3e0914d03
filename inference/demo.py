"""The README's main job (`make demo`): run every stage of both pipelines that exists, say what does not.

Issue #8 replaces this with the Snakemake `demo` configuration once every stage exists.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

# (stage, command line or None while the stage is not built, issue that builds it)
STAGES: list[tuple[str, list[str] | None, int]] = [
    ("halo catalog (embedded N-body, default preset)", None, 3),
    ("HOD+IA mocks (xi, omega, eta)", None, 4),
    ("IA emulator training and evaluation", None, 9),
    ("NUTS fit of an observation", None, 5),
    ("top and QCD jets (Pythia 8 + FastJet) to ROOT", None, 6),
    ("Lorentz-equivariant top tagger", None, 10),
    ("signal-fraction fit on tagger scores", None, 7),
]


def run_demo(workdir: Path = Path("results/demo")) -> int:
    """Run the built stages in order under `workdir`; return the number of stages that failed."""
    workdir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for name, command, issue in STAGES:
        if command is None:
            print(f"[not built yet] {name} (issue #{issue})")
            continue
        print(f"[run] {name}: {' '.join(command)}", flush=True)
        start = time.perf_counter()
        code = subprocess.call(command, cwd=workdir)
        print(f"[{'ok' if code == 0 else 'failed'}] {name} in {time.perf_counter() - start:.1f} s")
        failures += code != 0
    return failures


if __name__ == "__main__":
    sys.exit(1 if run_demo() else 0)
