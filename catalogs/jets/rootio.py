"""Jets in JetClass-style ROOT files (docs/ARCHITECTURE.md 3.4), written and read with uproot + awkward; GeV.

File layout: TTree `tree` with jagged float32 `part_px part_py part_pz part_energy` (pT-ordered), jagged int32
`part_charge part_pid` (one shared counter `npart`), float32 `jet_pt jet_eta jet_phi jet_energy jet_mass
jet_sdmass`, int32 `jet_nparticles` (constituents stored), bool `label_*` (JetClass names) and `aux_*` truth:
`aux_nparticles_all` (constituents of the whole jet), `aux_genpart_{pid,pt,eta,phi,dr}` (the matched top, or
the nearest hard parton of a QCD jet) and `aux_decay_{pid,pt,eta,phi}` (N, 3) (b, q, q'; 0 / NaN for QCD).

Reading gives padded arrays: `p4` (N, C, 4) float32 in the order (E, px, py, pz), a mask (N, C) and integer
labels indexing `label_names`; constituents come pT-ordered (sorted on reading where a file is not), so the
first C are the leading ones. Real JetClass files read unchanged: extra branches are ignored and whichever
JetClass label branches are present are used.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from common.atomic import atomic_file
from common.errors import InputError

TREE = "tree"
PROVENANCE = "provenance"  # a TObjString beside the tree: how the file was made (JSON), e.g. by generate_jets
JETCLASS_LABELS = (
    "label_QCD", "label_Hbb", "label_Hcc", "label_Hgg", "label_H4q",
    "label_Hqql", "label_Zqq", "label_Wqq", "label_Tbqq", "label_Tbl",
)  # fmt: skip
MOMENTUM_BRANCHES = ("part_energy", "part_px", "part_py", "part_pz")  # the order of the last axis of p4
_INT_BRANCHES = {"part_charge", "part_pid", "jet_nparticles"}


@dataclasses.dataclass
class JetArrays:
    """Padded jets: p4 (N, C, 4) float32 (E, px, py, pz in GeV), mask (N, C) bool, labels (N,) int64."""

    p4: np.ndarray
    mask: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    jet: dict[str, np.ndarray]  # the jet_* branches present, (N,)
    particles: dict[str, np.ndarray]  # extra per-particle branches asked for, (N, C) float32, 0 where masked


# ---------------------------------------------------------------- writing


def _cast(name: str, values: Any) -> Any:
    if name.startswith("label_"):
        return np.asarray(values, dtype=np.bool_)
    if isinstance(values, ak.Array):
        kind = np.int32 if name in _INT_BRANCHES else np.float32
        return ak.values_astype(values, kind)
    values = np.asarray(values)
    if values.dtype.kind == "b":
        return values
    return values.astype(np.int32 if values.dtype.kind in "iu" else np.float32)


def _tree_arrays(branches: Mapping[str, Any]) -> dict[str, Any]:
    """Group the jagged part_* branches into one record (shared counter `npart`) and cast every branch."""
    cast = {name: _cast(name, values) for name, values in branches.items() if name != "npart"}
    part = {name[len("part_") :]: values for name, values in cast.items() if name.startswith("part_")}
    arrays: dict[str, Any] = {"part": ak.zip(part)} if part else {}
    arrays.update({name: values for name, values in cast.items() if not name.startswith("part_")})
    return arrays


def _branch_type(values: Any) -> Any:
    if isinstance(values, ak.Array):
        return values.type
    return (values.dtype, values.shape[1:]) if values.ndim > 1 else values.dtype


def write_jets(path: str | os.PathLike[str], chunks: Iterable[Mapping[str, Any]], *,
               provenance: str | None = None) -> int:
    """Write the jets of `chunks` (branch name -> array, one entry per jet) to TTree `tree`, atomically,
    with `provenance` (text, e.g. JSON of the run's options) as a TObjString beside it.

    Returns the number of jets written. Every chunk must carry the same branches.
    """
    total = 0
    with atomic_file(path) as tmp, uproot.recreate(tmp) as file:
        tree = None
        for chunk in chunks:
            arrays = _tree_arrays(chunk)
            if tree is None:
                tree = file.mktree(TREE, {name: _branch_type(values) for name, values in arrays.items()})
            tree.extend(arrays)
            total += len(next(iter(arrays.values())))
        if tree is None:
            raise InputError(f"{path}: {TREE}: no jets to write")
        if provenance is not None:
            file[PROVENANCE] = provenance
    return total


def read_provenance(path: str | os.PathLike[str]) -> str | None:
    """The provenance text `write_jets` stored in `path`; None when the file has none or is unreadable."""
    try:
        with uproot.open(path) as file:
            return str(file[PROVENANCE]) if PROVENANCE in file.keys(cycle=False) else None
    except Exception:  # not a ROOT file, torn, foreign: it has no provenance of ours
        return None


# ---------------------------------------------------------------- reading


def _brief(err: Exception) -> str:
    """An exception's message on one line, at most 160 characters."""
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text if len(text) <= 160 else text[:157] + "..."


def open_tree(path: str | os.PathLike[str]) -> Any:
    """The TTree `tree` of a ROOT file; InputError for a missing, empty, truncated or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: {TREE}: the file is empty (expected a ROOT file)")
    try:
        file = uproot.open(path)
        names = file.keys(cycle=False)
    except Exception as err:  # uproot raises many kinds on a torn or foreign file
        raise InputError(
            f"{path}: {TREE}: not a readable ROOT file (truncated or corrupt? {_brief(err)})"
        ) from err
    if TREE not in names:
        raise InputError(f"{path}: {TREE}: no TTree named '{TREE}' (found: {', '.join(names) or 'nothing'})")
    try:
        tree = file[TREE]
    except Exception as err:
        raise InputError(f"{path}: {TREE}: cannot be read (truncated or corrupt? {_brief(err)})") from err
    if not hasattr(tree, "num_entries"):
        raise InputError(f"{path}: {TREE}: expected a TTree, found {type(tree).__name__}")
    if tree.num_entries == 0:
        raise InputError(f"{path}: {TREE}: no jets (0 entries)")
    return tree


def _label_names(tree: Any, path: Path, labels: Sequence[str] | None) -> tuple[str, ...]:
    present = set(tree.keys())
    if labels is None:
        found = tuple(name for name in JETCLASS_LABELS if name in present)
        if not found:
            raise InputError(
                f"{path}: label_*: no JetClass label branch (expected some of {JETCLASS_LABELS})"
            )
        return found
    for name in labels:
        if name not in JETCLASS_LABELS:
            raise InputError(f"{path}: {name}: not a JetClass label (expected one of {JETCLASS_LABELS})")
        if name not in present:
            raise InputError(f"{path}: {name}: branch missing")
    return tuple(labels)


def _branches(tree: Any, label_names: tuple[str, ...], extra: Sequence[str]) -> list[str]:
    jet_names = [name for name in tree.keys() if name.startswith("jet_")]
    return [*MOMENTUM_BRANCHES, *extra, *label_names, *jet_names]


def _require_branches(tree: Any, path: Path, branches: Sequence[str]) -> None:
    """InputError naming the first of `branches` that the tree lacks."""
    missing = [branch for branch in branches if branch not in tree.keys()]
    if missing:
        raise InputError(f"{path}: {missing[0]}: branch missing")


def read_range(tree: Any, path: Path, branches: Sequence[str], start: int, stop: int) -> dict[str, ak.Array]:
    """Read `branches` over entries [start, stop) one by one, so that an error names its branch."""
    _require_branches(tree, path, branches)
    arrays = {}
    for branch in branches:
        try:
            arrays[branch] = tree[branch].array(entry_start=start, entry_stop=stop, library="ak")
        except Exception as err:  # a torn basket surfaces as zlib, struct or deserialisation errors
            raise InputError(
                f"{path}: {branch}: cannot be read (truncated or corrupt? {_brief(err)})"
            ) from err
    return arrays


def _pad(values: ak.Array, size: int) -> np.ndarray:
    return ak.to_numpy(ak.fill_none(ak.pad_none(values[:, :size], size, clip=True), 0)).astype(np.float32)


def _pt_ordered(arrays: Mapping[str, ak.Array], names: Sequence[str]) -> dict[str, ak.Array]:
    """The per-particle branches `names` reordered by falling pT within each jet (stable: a file that follows
    the format is unchanged), so that keeping the first `max_particles` keeps the leading ones."""
    order = ak.argsort(np.hypot(arrays["part_px"], arrays["part_py"]), axis=1, ascending=False, stable=True)
    return {**arrays, **{name: arrays[name][order] for name in names}}


def _jagged_counts(values: ak.Array, path: Path, name: str) -> np.ndarray:
    """Constituents per jet of a jagged numeric branch; InputError naming it if it is anything else."""
    if values.ndim != 2 or not np.issubdtype(ak.to_numpy(ak.flatten(values)).dtype, np.number):
        raise InputError(f"{path}: {name}: expected one jagged list of numbers per jet")
    return ak.to_numpy(ak.num(values))


def _check_particles(arrays: Mapping[str, ak.Array], path: Path, start: int,
                     extra: Sequence[str]) -> np.ndarray:
    """Constituents per jet, after checking that every per-particle branch is jagged like part_px, that no
    jet is empty and that energies are finite and non-negative (GeV); InputError naming branch and jet."""
    counts = _jagged_counts(arrays["part_px"], path, "part_px")
    for name in (*MOMENTUM_BRANCHES, *extra):
        if not np.array_equal(_jagged_counts(arrays[name], path, name), counts):
            raise InputError(f"{path}: {name}: expected one jagged list per jet, as long as part_px")
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise InputError(f"{path}: part_px: jet {start + empty[0]} has no constituents")
    for name in MOMENTUM_BRANCHES:
        bad = ~np.isfinite(ak.to_numpy(ak.flatten(arrays[name])))
        if name == "part_energy":
            bad |= ak.to_numpy(ak.flatten(arrays[name])) < 0
        if bad.any():
            jet = start + int(np.searchsorted(np.cumsum(counts), np.flatnonzero(bad)[0], side="right"))
            rule = "finite and >= 0 GeV" if name == "part_energy" else "finite (GeV)"
            raise InputError(f"{path}: {name}: jet {jet} has a constituent that is not {rule}")
    return counts


def _label_values(values: ak.Array, path: Path, name: str) -> np.ndarray:
    """A label branch as 0/1 integers; InputError unless it holds booleans, or integers 0 and 1."""
    flat = ak.to_numpy(values) if values.ndim == 1 else None
    if flat is None or flat.dtype.kind not in "biu" or ((flat != 0) & (flat != 1)).any():
        kind = "not one value per jet" if flat is None else f"{flat.dtype} values"
        raise InputError(f"{path}: {name}: expected one boolean (or 0/1 integer) per jet, found {kind}")
    return flat.astype(np.int64)


def _to_jet_arrays(
    arrays: Mapping[str, ak.Array],
    path: Path,
    start: int,
    label_names: tuple[str, ...],
    max_particles: int,
    extra: Sequence[str],
) -> JetArrays:
    """Check and pad the branches of jets start, start + 1, ... of `path`."""
    counts = _check_particles(arrays, path, start, extra)
    onehot = np.stack([_label_values(arrays[name], path, name) for name in label_names], axis=1)
    several = np.flatnonzero(onehot.sum(axis=1) > 1)
    if several.size:
        raise InputError(f"{path}: label_*: jet {start + several[0]} carries several labels")
    keep = onehot.sum(axis=1) == 1  # jets of a class outside `label_names` are skipped
    kept_counts = np.minimum(counts[keep], max_particles)
    arrays = _pt_ordered(arrays, (*MOMENTUM_BRANCHES, *extra))
    return JetArrays(
        p4=np.stack([_pad(arrays[name][keep], max_particles) for name in MOMENTUM_BRANCHES], axis=-1),
        mask=np.arange(max_particles)[None, :] < kept_counts[:, None],
        labels=np.argmax(onehot[keep], axis=1),
        label_names=label_names,
        jet={name: ak.to_numpy(arrays[name])[keep] for name in arrays if name.startswith("jet_")},
        particles={name: _pad(arrays[name][keep], max_particles) for name in extra},
    )


def read_jets(
    path: str | os.PathLike[str],
    max_particles: int = 200,
    labels: Sequence[str] | None = None,
    extra: Sequence[str] = (),
) -> JetArrays:
    """Read a whole file into padded arrays (see `JetArrays`); at most `max_particles` per jet.

    `labels`: the JetClass label branches to use (default: all present); jets of other classes are skipped.
    `extra`: further per-particle branches to return padded, e.g. ("part_charge", "part_pid").
    """
    path = Path(path)
    tree = open_tree(path)
    names = _label_names(tree, path, labels)
    arrays = read_range(tree, path, _branches(tree, names, extra), 0, tree.num_entries)
    return _to_jet_arrays(arrays, path, 0, names, max_particles, extra)


def iter_jets(
    paths: Sequence[str | os.PathLike[str]],
    step_size: int = 10_000,
    max_particles: int = 200,
    labels: Sequence[str] | None = None,
    extra: Sequence[str] = (),
) -> Iterator[JetArrays]:
    """Stream jets from files larger than memory, `step_size` jets at a time (uproot's TTree.iterate).

    Without `labels`, the label set is that of the first file, and every file must carry it.
    """
    if step_size < 1:
        raise InputError(f"step_size: {step_size}: expected a positive number of jets")
    trees = [(Path(path), open_tree(path)) for path in paths]
    names = _label_names(trees[0][1], trees[0][0], labels) if trees else ()
    for path, tree in trees:
        branches = _branches(tree, _label_names(tree, path, names), extra)
        _require_branches(tree, path, branches)
        steps = tree.iterate(branches, step_size=step_size, library="ak")
        for start in range(0, tree.num_entries, step_size):
            try:
                batch = next(steps)
            except Exception as err:  # find and name the unreadable branch
                read_range(tree, path, branches, start, min(start + step_size, tree.num_entries))
                raise InputError(
                    f"{path}: {TREE}: cannot be read (truncated or corrupt? {_brief(err)})"
                ) from err
            arrays = {name: batch[name] for name in batch.fields}
            yield _to_jet_arrays(arrays, path, start, names, max_particles, extra)
