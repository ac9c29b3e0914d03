"""Jets for the taggers, streamed from ROOT files through `catalogs.jets.rootio` (docs/ARCHITECTURE.md 3.4).

Labels come from the files' JetClass label branches: `label_Tbqq` is top (1), `label_QCD` is QCD (0), jets
of other classes are skipped; a file may hold one class. Training batches mix all files: each round reads
a slice of every file in proportion to its size (so one-class files interleave), shuffles the round with
a generator seeded by (seed, epoch), groups jets of similar multiplicity into batches (the dense pair
cost grows as N²), and yields them with the padding columns that no jet uses trimmed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from catalogs.jets import rootio
from common.errors import InputError

CLASSES = {"label_QCD": 0, "label_Tbqq": 1}


@dataclass(frozen=True)
class JetFile:
    """A ROOT file of jets and how many of its entries to use."""

    path: Path
    entries: int


def scan_files(paths: Sequence[str | Path], role: str, max_jets: int | None = None) -> list[JetFile]:
    """Open every file (InputError for a bad one), check its label branches, and split `max_jets` among them
    in proportion to their sizes. `role` names the files in messages (e.g. 'TRAIN')."""
    if not paths:
        raise InputError(f"{role}: no ROOT files given")
    files = []
    for path in map(Path, paths):
        tree = rootio.open_tree(path)
        if not set(CLASSES) & set(tree.keys()):
            raise InputError(f"{path}: label_*: expected a label_Tbqq and/or label_QCD branch")
        files.append(JetFile(path, int(tree.num_entries)))
    total = sum(f.entries for f in files)
    if max_jets is not None and max_jets < total:
        files = [JetFile(f.path, max(1, round(max_jets * f.entries / total))) for f in files]
    return files


def _binary(chunk: rootio.JetArrays, path: Path, offset: int) -> tuple[np.ndarray, ...]:
    """(p4, mask, label) of the top and QCD jets of a chunk; InputError for non-finite momenta."""
    codes = np.array([CLASSES.get(name, -1) for name in chunk.label_names])
    labels = codes[chunk.labels]
    keep = labels >= 0
    bad = ~np.isfinite(chunk.p4).all(axis=(1, 2))
    if bad.any():
        raise InputError(f"{path}: part_energy/part_px/part_py/part_pz: non-finite momentum in jet "
                         f"{offset + int(np.flatnonzero(bad)[0])}")
    return chunk.p4[keep], chunk.mask[keep], labels[keep].astype(np.float32)


def _file_chunks(jf: JetFile, step: int, max_particles: int) -> Iterator[tuple[np.ndarray, ...]]:
    """The first `jf.entries` jets of a file as binary-labelled chunks of at most `step` jets."""
    seen = 0
    for chunk in rootio.iter_jets([jf.path], step_size=step, max_particles=max_particles):
        out = _binary(chunk, jf.path, seen)
        n = min(len(chunk.labels), jf.entries - seen)
        seen += len(chunk.labels)
        yield tuple(a[:n] for a in out) if n < len(chunk.labels) else out
        if seen >= jf.entries:
            return


def _trimmed(p: np.ndarray, mask: np.ndarray, label: np.ndarray, width: int | None = None
             ) -> tuple[torch.Tensor, ...]:
    """The batch as tensors, cut to `width` constituent slots (default: the last one any jet uses)."""
    if width is None:
        used = np.flatnonzero(mask.any(0))
        width = int(used[-1]) + 1 if used.size else 1
    return torch.from_numpy(p[:, :width]), torch.from_numpy(mask[:, :width]), torch.from_numpy(label)


def _bucketed(order: np.ndarray, counts: np.ndarray, batch_size: int, rng: np.random.Generator,
              window: int = 16) -> list[np.ndarray]:
    """Batches of similar multiplicity: windows of `window` shuffled batches are sorted by constituent
    count before cutting, and the batches are shuffled, so padding (dense cost ~ N²) shrinks."""
    batches = []
    for start in range(0, len(order), window * batch_size):
        chunk = order[start:start + window * batch_size]
        chunk = chunk[np.argsort(counts[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def stream_batches(files: Sequence[JetFile], batch_size: int, *, shuffle: bool, seed: int = 0,
                   epoch: int = 0, round_jets: int = 20_000, max_particles: int = 200,
                   width: int | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
    """Batches (p4 (B, C', 4) float32 (E, px, py, pz) GeV, mask (B, C'), label (B,) float32) of all files;
    C' is the widest jet of the batch, or `width` (≤ `max_particles`) for fixed shapes."""
    total = sum(f.entries for f in files)
    rounds = max(1, math.ceil(total / round_jets))
    streams = [_file_chunks(f, max(1, math.ceil(f.entries / rounds)), max_particles) for f in files]
    rng = np.random.default_rng([seed, epoch])
    carry: list[tuple[np.ndarray, ...]] = []
    while streams:
        parts, alive = list(carry), []
        for stream in streams:
            part = next(stream, None)
            if part is not None:
                parts.append(part)
                alive.append(stream)
        streams = alive
        if not parts:
            break
        p, mask, label = (np.concatenate([part[i] for part in parts]) for i in range(3))
        order = rng.permutation(len(label)) if shuffle else np.arange(len(label))
        full = len(order) - len(order) % batch_size if streams else len(order)
        batches = [order[start:start + batch_size] for start in range(0, full, batch_size)]
        if shuffle:
            batches = _bucketed(order[:full], mask.sum(1), batch_size, rng)
        for idx in batches:
            yield _trimmed(p[idx], mask[idx], label[idx], width)
        rest = order[full:]
        carry = [(p[rest], mask[rest], label[rest])] if len(rest) else []


def read_all(files: Sequence[JetFile], max_particles: int = 200) -> tuple[np.ndarray, ...]:
    """Every selected jet of `files` in file order: (p4, mask, label) as numpy arrays."""
    parts = [part for f in files for part in _file_chunks(f, 20_000, max_particles)]
    if not parts:
        raise InputError(f"{files[0].path}: label_*: no top or QCD jets")
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(3))


def class_counts(files: Sequence[JetFile]) -> np.ndarray:
    """Numbers of QCD and top jets (2,) among the selected entries, read from the label branches alone."""
    counts = np.zeros(2, dtype=np.int64)
    for f in files:
        tree = rootio.open_tree(f.path)
        for name, code in CLASSES.items():
            if name in tree.keys():
                counts[code] += int(np.count_nonzero(tree[name].array(entry_stop=f.entries, library="np")))
    return counts
