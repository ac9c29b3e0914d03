"""Bad input to either CLI gets one line and exit 2 before any work, and changes nothing on disk
(docs/ARCHITECTURE.md 2): output paths, seeds, option ranges, a run's own inputs as its output, and what a
refused run leaves behind. Inputs are placeholders where the refusal comes before they are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import SEED_MAX, InputError
from common.outputs import check_output, removed_on_input_error
from tests.cli.bad_input import assert_refused, run_cli, snapshot

# command -> (argv with OUT for the output path, the output's kind)
COMMANDS = {
    "halos build": (["iaemu", "halos", "build", "--preset", "tiny", "--out", "OUT"], "file"),
    "simulate": (["iaemu", "simulate", "--halos", "tiny", "--n-points", "2", "--out", "OUT"], "file"),
    "observation from-mock": (["iaemu", "observation", "from-mock", "IN/m.h5", "--out", "OUT"], "file"),
    "observation import": (["iaemu", "observation", "import", "--xi", "IN/xi.dat", "--out", "OUT"], "file"),
    "train": (["iaemu", "train", "IN/m.h5", "--out", "OUT"], "dir"),
    "evaluate": (["iaemu", "evaluate", "IN/emu", "IN/m.h5", "--out", "OUT"], "dir"),
    "validate": (["iaemu", "validate", "IN/emu", "IN/m.h5", "--out", "OUT"], "dir"),
    "fit": (["iaemu", "fit", "--tng", "IN/obs.h5", "--out", "OUT"], "dir"),
    "generate": (["toptag", "generate", "--process", "top", "--n", "5", "--out", "OUT"], "file"),
    "mix": (["toptag", "mix", "--signal", "IN/s.root", "--background", "IN/b.root", "--fraction", "0.5",
             "--n", "4", "--out", "OUT"], "file"),
    "toptag fit": (["toptag", "fit", "IN/tagger", "--data", "IN/d.root", "--signal", "IN/s.root",
                    "--background", "IN/b.root", "--out", "OUT"], "dir"),
    "discover-symmetry": (["toptag", "discover-symmetry", "IN/s.root", "--out", "OUT"], "dir"),
    "toptag train": (["toptag", "train", "IN/s.root", "IN/b.root", "--val", "IN/v.root", "--out", "OUT"],
                     "dir"),
    "toptag evaluate": (["toptag", "evaluate", "IN/tagger", "IN/t.root", "--out", "OUT"], "dir"),
    "toptag predict": (["toptag", "predict", "IN/tagger", "IN/t.root", "--out", "OUT"], "file"),
}
SEEDED = [name for name in COMMANDS if name not in ("observation from-mock", "observation import")]


def argv(name: str, tmp: Path, out: str | Path, *extra: str) -> list[str]:
    args = [str(out) if a == "OUT" else a.replace("IN", str(tmp / "in")) for a in COMMANDS[name][0]]
    return args + list(extra)


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    """A work folder with a text file, a folder of the user's and (absent) inputs under in/."""
    (tmp_path / "notes.txt").write_text("a user's file\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "thesis.tex").write_text("\\begin{document}\n")
    return tmp_path


def bad_outputs(kind: str, tmp: Path) -> dict[str, tuple[Path, str]]:
    """Output paths that cannot take a `kind` output, with a piece of the expected message."""
    wrong = tmp / ("folder" if kind == "file" else "notes.txt")
    return {"wrong kind": (wrong, "is a folder" if kind == "file" else "is a file"),
            "under a file": (tmp / "notes.txt" / "out", "is a file, not a folder"),
            "unwritable": (Path("/proc/iaemu-no-such/out"), "not writable")}


@pytest.mark.parametrize("case", ["wrong kind", "under a file", "unwritable"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_bad_output_path_is_refused_before_any_work(name, case, tmp, capsys, monkeypatch) -> None:
    out, message = bad_outputs(COMMANDS[name][1], tmp)[case]
    before = snapshot(tmp)
    assert_refused(run_cli(capsys, monkeypatch, *argv(name, tmp, out)), str(out), message)
    assert snapshot(tmp) == before


@pytest.mark.parametrize("seed", ["-1", "99999999999999999999999"])
@pytest.mark.parametrize("name", SEEDED)
def test_a_seed_outside_its_range_is_refused(name, seed, tmp, capsys, monkeypatch) -> None:
    before = snapshot(tmp)
    line = assert_refused(run_cli(capsys, monkeypatch, *argv(name, tmp, tmp / "out", "--seed", seed)),
                          "--seed", seed)
    assert f"[0, {SEED_MAX}]" in line
    assert snapshot(tmp) == before


@pytest.mark.parametrize(("name", "extra", "flag"), [
    ("fit", ["--target-accept", "1.5"], "--target-accept"),
    ("fit", ["--target-accept", "nan"], "--target-accept"),
    ("fit", ["--fix", "logMmin=12.5", "--fix", "logMmin=13"], "--fix"),
    ("fit", ["--stats", "xi,foo"], "--stats"),
    ("validate", ["--stats", "foo"], "--stats"),
    ("validate", ["--workers", "0"], "--workers"),
    ("validate", ["--batch", "0"], "--batch"),
    ("validate", ["--n-injections", "0"], "--n-injections"),
    ("halos build", ["--device", "tpu"], "--device"),
    ("train", ["--epochs", "0"], "--epochs"),
    ("train", ["--ensemble", "0"], "--ensemble"),
    ("observation import", ["--redshift", "-3"], "--redshift"),
    ("observation import", ["--redshift", "nan"], "--redshift"),
    ("simulate", ["--workers", "0"], "--workers"),
    ("simulate", ["--halo-seed", "-1"], "--halo-seed"),
    ("toptag fit", ["--bins", "1"], "--bins"),
    ("discover-symmetry", ["--epochs", "0"], "--epochs"),
], ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_an_option_out_of_range_is_refused(name, extra, flag, tmp, capsys, monkeypatch) -> None:
    before = snapshot(tmp)
    assert_refused(run_cli(capsys, monkeypatch, *argv(name, tmp, tmp / "out", *extra)), flag)
    assert snapshot(tmp) == before


@pytest.mark.parametrize("name", ["evaluate", "validate", "fit", "mix", "toptag fit", "train"])
def test_the_output_is_never_an_input_of_the_same_run(name, tmp, capsys, monkeypatch) -> None:
    """The output path names an input (for a folder output: holds one), which the run would overwrite."""
    args = argv(name, tmp, "OUT")
    first_input = next(a for a in args if a.startswith(str(tmp / "in")))
    target = Path(first_input)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"root and more: a user's input")
    out = target if COMMANDS[name][1] == "file" else target.parent
    before = snapshot(tmp)
    assert_refused(run_cli(capsys, monkeypatch, *argv(name, tmp, out)), "is also an input of this run")
    assert snapshot(tmp) == before


@pytest.mark.parametrize("name", list(COMMANDS))
def test_an_existing_output_the_command_did_not_write_is_kept(name, tmp, capsys, monkeypatch) -> None:
    """A text file, or a folder of someone else's files, at --out: refused, untouched."""
    out = tmp / ("notes.txt" if COMMANDS[name][1] == "file" else "folder")
    before = snapshot(tmp)
    assert_refused(run_cli(capsys, monkeypatch, *argv(name, tmp, out)), str(out), "not written by this")
    assert snapshot(tmp) == before


def test_a_refused_run_removes_what_it_created_and_keeps_what_was_there(tmp_path: Path) -> None:
    """Leftovers beside the output (checkpoints, part folders, new parent folders) go on InputError; a
    killed run's checkpoints, there before, stay; a crash or Ctrl-C removes nothing."""
    out = tmp_path / "run" / "new" / "out.h5"
    with pytest.raises(InputError), removed_on_input_error(out):
        out.parent.mkdir(parents=True)
        (out.parent / ".out.h5.parts").mkdir()
        raise InputError("bad")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    out = tmp_path / "emu"
    (tmp_path / "emu.checkpoints").mkdir()  # left by a killed run, to resume from
    with pytest.raises(InputError), removed_on_input_error(out):
        (tmp_path / ".emu.ckpt").write_text("x")
        (tmp_path / "emu.parts").mkdir()
        raise InputError("bad")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emu.checkpoints"]
    with pytest.raises(KeyboardInterrupt), removed_on_input_error(out):
        (tmp_path / ".emu.ckpt").write_text("x")
        raise KeyboardInterrupt
    assert (tmp_path / ".emu.ckpt").exists()


def test_check_output_names_the_path_and_the_rule(tmp_path: Path) -> None:
    (tmp_path / "a.h5").write_text("x")
    with pytest.raises(InputError, match="is also an input"):
        check_output(tmp_path, "dir", inputs=[tmp_path / "a.h5"])
    with pytest.raises(InputError, match="not written by this command"):
        check_output(tmp_path, "dir")
    assert check_output(tmp_path / "new" / "b.h5", "file") == tmp_path / "new" / "b.h5"
    assert not (tmp_path / "new").exists()  # checking creates nothing
