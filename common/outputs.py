"""Output paths checked before any work, and what a refused run leaves behind (docs/ARCHITECTURE.md 2).

:func:`check_output` says in one line why a path cannot take a command's output: a folder where a file is
expected (or the reverse), a parent that is a file or cannot be written, a path that is one of the run's own
inputs (or, for a folder that will be replaced, holds one), or an existing file or folder that this command
did not write. :func:`removed_on_input_error` deletes what a run created beside its output (temporaries,
checkpoints, row folders, created parent folders) when the run ends in an :class:`InputError`; what was there
before (a killed run's checkpoints, kept to resume) stays.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from common.errors import InputError

OutputKind = Literal["file", "dir"]
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ROOT_SIGNATURE = b"root"


def _starts_with(path: Path, signature: bytes) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(signature)) == signature
    except OSError:
        return False


def is_hdf5(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file (its signature; a superblock at offset 0, as h5py writes it)."""
    return _starts_with(path, HDF5_SIGNATURE)


def is_root(path: Path) -> bool:
    """Whether ``path`` is a ROOT file (its 'root' magic)."""
    return _starts_with(path, ROOT_SIGNATURE)


def holds(*names: str) -> Callable[[Path], bool]:
    """A test of an existing output folder: empty, or holding one of ``names`` (what the command writes)."""

    def test(folder: Path) -> bool:
        return not any(folder.iterdir()) or any((folder / name).exists() for name in names)

    return test


def input_paths(values: Iterable[Any]) -> list[Path]:
    """The paths among ``values`` (paths, lists of them, strings naming existing files; None skipped)."""
    paths: list[Path] = []
    for value in values:
        if isinstance(value, list | tuple):
            paths += input_paths(value)
        elif isinstance(value, os.PathLike):
            paths.append(Path(value))
        elif isinstance(value, str):  # a file name, or NAME=FILE
            paths += [Path(text) for text in (value, value.partition("=")[2]) if text and Path(text).exists()]
    return paths


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b) or a.resolve() == b.resolve()
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _nearest_existing(path: Path) -> Path:
    parent = path.absolute().parent
    return next((p for p in (parent, *parent.parents) if p.exists()), Path("/"))


def _check_writable_folder(out: Path) -> None:
    """The nearest existing ancestor of ``out`` is a folder where a file can be created (a probe, removed)."""
    base = _nearest_existing(out)
    if not base.is_dir():
        raise InputError(f"{out}: the output folder is not writable: {base} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=base)
    except OSError as err:
        raise InputError(f"{out}: the folder {base} is not writable ({err.strerror})") from err
    os.close(fd)
    os.unlink(probe)


def check_output(out: str | os.PathLike[str], kind: OutputKind, *, inputs: Iterable[Any] = (),
                 own: Callable[[Path], bool] | None = None, what: str = "output") -> Path:
    """``out`` checked as the target of a run, before any work: an InputError naming it unless it can be
    written as a ``kind`` ("file" or "dir"), is none of ``inputs`` (for a folder: holds none of them), and,
    if it exists, passes ``own`` (the command's test that it wrote it; None: a file may be replaced, a
    folder only when empty). ``what`` names the output in messages (e.g. "the HDF5 dataset")."""
    out = Path(out)
    for source in input_paths(inputs):
        if _same(out, source) or (kind == "dir" and _inside(source, out)):
            raise InputError(f"{out}: is also an input of this run ({source}); choose another output path")
    if kind == "file" and out.is_dir():
        raise InputError(f"{out}: is a folder; expected a file path for the {what}")
    if kind == "dir" and out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; expected a folder for the {what}")
    if out.exists() and not (own or (holds() if kind == "dir" else lambda _: True))(out):
        raise InputError(f"{out}: exists and was not written by this command; remove it or choose another "
                         f"path for the {what}")
    _check_writable_folder(out)
    return out


def _beside(out: Path) -> set[Path]:
    """Paths beside ``out`` a run may create: ``out`` itself, ``out.*`` and ``.out.*``."""
    folder = out.parent
    if not folder.is_dir():
        return set()
    return {p for p in folder.iterdir() if p.name == out.name or p.name.startswith((f"{out.name}.",
                                                                                     f".{out.name}."))}


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def removed_on_input_error(out: str | os.PathLike[str]) -> Iterator[None]:
    """Run the body; if it raises :class:`InputError`, remove what it created beside ``out`` (the output,
    ``out.*``, ``.out.*``, parent folders it made). Anything there before, e.g. checkpoints a killed run
    left to resume from, is kept; other exceptions (a crash, Ctrl-C) remove nothing."""
    out = Path(out)
    first_new = next((p for p in (out.absolute().parent, *out.absolute().parent.parents)
                      if p.parent.exists()), None) if not out.parent.exists() else None
    before = _beside(out)
    try:
        yield
    except InputError:
        if first_new is not None and first_new.exists():
            _remove(first_new)
        for path in _beside(out) - before:
            _remove(path)
        raise
