"""Small JetClass-style ROOT files of toy jets for the tagger tests (written with catalogs.jets.rootio).

"Top" toy jets are wide (σ = 0.25 in η, φ: heavy), "QCD" toy jets narrow (σ = 0.05: light), so the jet mass
separates them and a working tagger learns it within a few hundred jets.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from catalogs.jets.rootio import write_jets
from emulators.taggers.lorentz import toy_jets


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small models run faster on one thread than on cores shared with other work (import to use)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy_branches(n: int, top: bool, seed: int, n_max: int = 24) -> dict:
    import awkward as ak

    p, mask = toy_jets(n, n_max, torch.Generator().manual_seed(seed), dtype=torch.float32,
                       spread=0.25 if top else 0.05)
    counts = mask.sum(1).numpy()
    flat = p[mask].numpy()
    branches = {name: ak.unflatten(flat[:, i], counts)
                for i, name in enumerate(["part_energy", "part_px", "part_py", "part_pz"])}
    branches["jet_pt"] = torch.hypot(p[..., 1].sum(1), p[..., 2].sum(1)).numpy()
    branches["label_Tbqq"] = np.full(n, top)
    branches["label_QCD"] = np.full(n, not top)
    return branches


def write_toy_file(path: Path, n: int, top: bool | None, seed: int) -> Path:
    """n toy jets of one class (top True/False) or, with top=None, half of each, interleaved."""
    if top is None:
        a, b = toy_branches(n // 2, True, seed), toy_branches(n - n // 2, False, seed + 1)
        import awkward as ak

        join = {True: ak.concatenate, False: np.concatenate}
        chunk = {k: join[isinstance(a[k], ak.Array)]([a[k], b[k]]) for k in a}
    else:
        chunk = toy_branches(n, top, seed)
    write_jets(path, [chunk])
    return path


def write_toy_split(folder: Path, sizes: tuple[int, int, int, int], seed: int) -> dict[str, Path]:
    """One-class top and QCD training files, and mixed validation and test files of the given sizes."""
    names, classes = ("top", "qcd", "val", "test"), (True, False, None, None)
    return {name: write_toy_file(folder / f"{name}.root", n, top, seed + k)
            for k, (name, n, top) in enumerate(zip(names, sizes, classes, strict=True))}  # fmt: skip
