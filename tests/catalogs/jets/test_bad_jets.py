"""Jet files that break the JetClass contract (docs/ARCHITECTURE.md 3.4) are refused by the reader in one
line naming the file, the branch and, where it is one jet's fault, the jet."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from catalogs.jets.rootio import _branch_type, iter_jets, read_jets
from common.errors import InputError
from tests.emulators.taggers.tagger_files import toy_branches


def _write(path: Path, branches: dict) -> Path:
    """Write branches with uproot directly (write_jets would cast labels to bool and zip part_*)."""
    jagged = {k for k, v in branches.items() if k.startswith("part_") and isinstance(v, ak.Array)}
    part = {k[len("part_"):]: branches[k] for k in jagged}
    rest = {k: v for k, v in branches.items() if k not in jagged}
    arrays = {**({"part": ak.zip(part)} if part else {}), **rest}
    with uproot.recreate(path) as f:
        f.mktree("tree", {name: _branch_type(values) for name, values in arrays.items()}).extend(arrays)
    return path


def _flat_particles(b: dict) -> None:
    for name in ("part_energy", "part_px", "part_py", "part_pz"):
        b[name] = ak.to_numpy(b[name][:, 0])  # one number per jet: not jagged


def _negative_energy(b: dict) -> None:
    energy = ak.to_numpy(ak.flatten(b["part_energy"])).copy()
    energy[ak.num(b["part_energy"])[0] + 1] = -3.0  # jet 1's second constituent
    b["part_energy"] = ak.unflatten(energy, ak.num(b["part_energy"]))


def _float_label(b: dict) -> None:
    b["label_Tbqq"] = np.full(len(b["label_Tbqq"]), 0.7, dtype=np.float32)


def _nan_momentum(b: dict) -> None:
    px = ak.to_numpy(ak.flatten(b["part_px"])).copy()
    px[0] = np.nan
    b["part_px"] = ak.unflatten(px, ak.num(b["part_px"]))


@pytest.mark.parametrize(("change", "needle"), [
    (_flat_particles, "part_px: expected one jagged list of numbers per jet"),
    (_negative_energy, "part_energy: jet 1 "),
    (_float_label, "label_Tbqq: expected one boolean (or 0/1 integer) per jet, found float32"),
    (_nan_momentum, "part_px: jet 0 "),
], ids=["non-jagged part_px", "negative energy", "float label", "NaN momentum"])
@pytest.mark.parametrize("reader", ["read_jets", "iter_jets"])
def test_a_broken_jet_file_is_refused_naming_file_and_branch(reader, change, needle, tmp_path) -> None:
    branches = toy_branches(12, True, seed=3)
    change(branches)
    path = _write(tmp_path / "bad.root", branches)
    with pytest.raises(InputError) as err:
        read_jets(path) if reader == "read_jets" else list(iter_jets([path], step_size=5))
    assert str(err.value).startswith(f"{path}: ") and needle in str(err.value)


def test_integer_labels_0_and_1_are_read(tmp_path) -> None:
    branches = toy_branches(6, True, seed=4)
    branches["label_Tbqq"] = np.ones(6, dtype=np.int32)
    branches["label_QCD"] = np.zeros(6, dtype=np.int32)
    jets = read_jets(_write(tmp_path / "int.root", branches))
    assert jets.labels.tolist() == [jets.label_names.index("label_Tbqq")] * 6
