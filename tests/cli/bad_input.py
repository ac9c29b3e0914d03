"""Run either console app in this process, as its script would, and check the promise for bad input
(docs/ARCHITECTURE.md 2): exit 2, one line on stderr naming the culprit, no traceback, nothing changed."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str | Path) -> Run:
    """``iaemu ARGS`` or ``toptag ARGS`` through its entry point; any exception but SystemExit propagates
    (that is the traceback a user would see)."""
    from cli.hep.app import main as toptag
    from cli.ia.app import main as iaemu

    script, *args = map(str, argv)
    monkeypatch.setattr(sys, "argv", [script, *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        {"iaemu": iaemu, "toptag": toptag}[script]()
    out = capsys.readouterr()
    return Run(int(stop.value.code or 0), out.out, out.err)


def snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder`` (hidden ones too) with a digest of its content ("dir" for folders)."""
    return {str(p.relative_to(folder)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))}


def assert_refused(run: Run, *needles: str) -> str:
    """Exit 2 and one stderr line holding every needle; returns the line."""
    lines = run.stderr.strip().splitlines()
    assert run.code == 2 and len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
