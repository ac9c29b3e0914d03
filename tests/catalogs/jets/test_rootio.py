"""JetClass-style ROOT files: round trip, plain-uproot layout, streaming, real JetClass layout, bad input."""

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from catalogs.jets.rootio import JETCLASS_LABELS, iter_jets, read_jets, write_jets
from common.errors import InputError

JETCLASS_NAMES = [
    "part_px",
    "part_py",
    "part_pz",
    "part_energy",
    "part_charge",
    "part_pid",
    "jet_pt",
    "jet_eta",
    "jet_phi",
    "jet_energy",
    "jet_mass",
    "jet_sdmass",
    "jet_nparticles",
    "label_Tbqq",
    "label_QCD",
]


def branches(n: int, seed: int, top_fraction: float = 0.5) -> dict:
    """Random jets with the toolkit's branches (momenta need not be physical for I/O tests)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 40, n)
    total = int(counts.sum())
    out = {
        f"part_{name}": ak.unflatten(rng.normal(0, 50, total).astype(np.float32), counts)
        for name in ("px", "py", "pz")
    }
    out["part_energy"] = ak.unflatten(rng.uniform(1, 100, total).astype(np.float32), counts)
    out["part_charge"] = ak.unflatten(rng.integers(-1, 2, total).astype(np.int32), counts)
    out["part_pid"] = ak.unflatten(rng.choice([22, 211, -211, 130], total).astype(np.int32), counts)
    for name in ("pt", "eta", "phi", "energy", "mass", "sdmass"):
        out[f"jet_{name}"] = rng.normal(0, 1, n).astype(np.float32)
    out["jet_nparticles"] = counts.astype(np.int32)
    top = rng.uniform(size=n) < top_fraction
    out["label_Tbqq"], out["label_QCD"] = top, ~top
    out["aux_decay_pt"] = rng.normal(size=(n, 3)).astype(np.float32)
    return out


def padded_by_hand(jets: dict, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, size, 4) in (E, px, py, pz) order and the mask, built jet by jet from the `size` leading-pT
    constituents (the branches here are written unordered)."""
    n = len(jets["jet_pt"])
    p4, mask = np.zeros((n, size, 4), np.float32), np.zeros((n, size), bool)
    for i in range(n):
        pt = np.hypot(np.asarray(jets["part_px"][i]), np.asarray(jets["part_py"][i]))
        leading = sorted(range(len(pt)), key=lambda k: -pt[k])[:size]
        for k, name in enumerate(["part_energy", "part_px", "part_py", "part_pz"]):
            values = np.asarray(jets[name][i])[leading]
            p4[i, : len(values), k] = values
            mask[i, : len(values)] = True
    return p4, mask


def test_round_trip_gives_identical_arrays(tmp_path: Path) -> None:
    chunks = [branches(30, 1), branches(20, 2)]
    path = tmp_path / "jets.root"
    assert write_jets(path, chunks) == 50
    whole = {
        name: (
            ak.concatenate([c[name] for c in chunks])
            if isinstance(chunks[0][name], ak.Array)
            else np.concatenate([c[name] for c in chunks])
        )
        for name in chunks[0]
    }
    with uproot.open(path) as file:
        tree = file["tree"]
        assert tree.classname == "TTree"
        assert set(JETCLASS_NAMES) <= set(tree.keys())
        assert str(tree["part_px"].interpretation) == "AsJagged(AsDtype('>f4'))"
        raw = tree.arrays(library="ak")
    for name, values in whole.items():
        assert ak.to_list(raw[name]) == ak.to_list(values), name
    jets = read_jets(path, max_particles=25, extra=("part_pid",))
    p4, mask = padded_by_hand(whole, 25)
    np.testing.assert_array_equal(jets.p4, p4)
    np.testing.assert_array_equal(jets.mask, mask)
    assert jets.label_names == ("label_QCD", "label_Tbqq")
    np.testing.assert_array_equal(jets.labels, whole["label_Tbqq"].astype(int))
    np.testing.assert_array_equal(jets.jet["jet_nparticles"], whole["jet_nparticles"])
    pt = np.hypot(whole["part_px"], whole["part_py"])
    pids = [np.asarray(pid)[sorted(range(len(p)), key=lambda k: -p[k])][:25]  # each jet's leading 25
            for pid, p in zip(ak.to_list(whole["part_pid"]), ak.to_list(pt), strict=True)]
    np.testing.assert_array_equal(jets.particles["part_pid"][mask], np.concatenate(pids))


def test_streaming_matches_reading_whole_files(tmp_path: Path) -> None:
    paths = [tmp_path / "a.root", tmp_path / "b.root"]
    write_jets(paths[0], [branches(23, 3)])
    write_jets(paths[1], [branches(11, 4)])
    steps = list(iter_jets(paths, step_size=7, max_particles=30))
    assert [len(s.labels) for s in steps] == [7, 7, 7, 2, 7, 4]
    whole = [read_jets(path, max_particles=30) for path in paths]
    for field in ("p4", "mask", "labels"):
        np.testing.assert_array_equal(
            np.concatenate([getattr(s, field) for s in steps]),
            np.concatenate([getattr(w, field) for w in whole]),
        )


def jetclass_like(path: Path, n: int, seed: int) -> np.ndarray:
    """A file laid out like a real JetClass file: all ten labels, extra branches, one counter per branch."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 30, n)
    jagged = {
        name: ak.unflatten(rng.normal(size=int(counts.sum())).astype(np.float32), counts)
        for name in ("part_px", "part_py", "part_pz", "part_energy", "part_deta", "part_dphi")
    }
    jagged["part_energy"] = abs(jagged["part_energy"])  # energies are non-negative (the reader checks)
    classes = rng.integers(0, len(JETCLASS_LABELS), n)
    flat = {name: (classes == k) for k, name in enumerate(JETCLASS_LABELS)}
    flat.update(
        {
            "jet_pt": rng.uniform(500, 1000, n),
            "jet_tau1": rng.uniform(size=n),
            "aux_genpart_pid": rng.integers(0, 25, n).astype(np.int32),
        }
    )
    with uproot.recreate(path) as file:
        tree = file.mktree(
            "tree",
            {**{k: v.type for k, v in jagged.items()}, **{k: v.dtype for k, v in flat.items()}},
            counter_name=lambda name: f"n_{name}",
        )
        tree.extend({**jagged, **flat})
    return classes


def test_reads_a_jetclass_layout_and_label_subsets(tmp_path: Path) -> None:
    path = tmp_path / "jetclass.root"
    classes = jetclass_like(path, 60, 5)
    jets = read_jets(path)
    assert jets.label_names == JETCLASS_LABELS
    np.testing.assert_array_equal(jets.labels, classes)
    subset = read_jets(path, labels=["label_QCD", "label_Tbqq"])
    wanted = np.isin(classes, [0, 8])
    np.testing.assert_array_equal(subset.labels, (classes[wanted] == 8).astype(int))
    np.testing.assert_array_equal(subset.p4, jets.p4[wanted])
    with pytest.raises(InputError, match="label_Foo: not a JetClass label"):
        read_jets(path, labels=["label_Foo"])


def expect_error(path: Path, field: str, **kwargs) -> str:
    with pytest.raises(InputError) as err:
        read_jets(path, **kwargs)
    message = str(err.value)
    assert message.startswith(f"{path}: {field}"), message
    assert "\n" not in message
    return message


def test_bad_files_name_the_file_and_the_branch(tmp_path: Path) -> None:
    good = tmp_path / "good.root"
    write_jets(good, [branches(200, 6)])
    expect_error(tmp_path / "absent.root", "file not found")
    (tmp_path / "empty.root").write_bytes(b"")
    expect_error(tmp_path / "empty.root", "tree")
    with uproot.recreate(tmp_path / "other.root") as file:
        file.mktree("events", {"x": np.float32}).extend({"x": np.zeros(3, np.float32)})
    assert "no TTree named 'tree'" in expect_error(tmp_path / "other.root", "tree")
    with uproot.recreate(tmp_path / "zero.root") as file:
        file.mktree("tree", {"x": np.float32})
    assert "0 entries" in expect_error(tmp_path / "zero.root", "tree")
    no_energy = {k: v for k, v in branches(10, 7).items() if k != "part_energy"}
    write_jets(tmp_path / "noenergy.root", [no_energy])
    assert "branch missing" in expect_error(tmp_path / "noenergy.root", "part_energy")
    expect_error(tmp_path / "good.root", "label_Hbb", labels=["label_Hbb"])
    data, whole = good.read_bytes(), read_jets(good)
    assert "part_energy: cannot be read" in expect_error(
        cut_file(tmp_path, data, len(data) // 2), "part_energy"
    )
    assert "not a readable ROOT file" in expect_error(cut_file(tmp_path, data, 500), "tree")
    for cut in np.linspace(1000, len(data) - 1, 12).astype(int):
        torn = cut_file(tmp_path, data, cut)
        try:  # bytes at the end that a reader does not need (free-space records) may go unnoticed ...
            np.testing.assert_array_equal(read_jets(torn).p4, whole.p4)
        except InputError as err:  # ... but lost data is always reported, naming the file
            assert str(err).startswith(f"{torn}: ") and "truncated or corrupt" in str(err)


def cut_file(folder: Path, data: bytes, cut: int) -> Path:
    torn = folder / f"torn{cut}.root"
    torn.write_bytes(data[:cut])
    return torn


def test_a_jet_without_constituents_or_with_two_labels_is_refused(tmp_path: Path) -> None:
    jets = branches(5, 8)
    counts = np.array([3, 0, 2, 1, 4])
    for name in ("part_px", "part_py", "part_pz", "part_energy"):
        jets[name] = ak.unflatten(np.ones(counts.sum(), np.float32), counts)
    jets = {k: v for k, v in jets.items() if k not in ("part_charge", "part_pid")}
    write_jets(tmp_path / "hollow.root", [jets])
    assert "jet 1 has no constituents" in expect_error(tmp_path / "hollow.root", "part_px")
    both = branches(4, 9)
    both["label_QCD"] = np.ones(4, bool)
    both["label_Tbqq"] = np.ones(4, bool)
    write_jets(tmp_path / "both.root", [both])
    assert "several labels" in expect_error(tmp_path / "both.root", "label_")
