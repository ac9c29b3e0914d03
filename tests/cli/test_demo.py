"""The demo's headlines are read back from the workflow's outputs: the IA world they name is the one the
run's emulator records (docs/ARCHITECTURE.md 3.2, training.data.world)."""

from __future__ import annotations

import json
from pathlib import Path

from cli.demo import headlines


def test_headlines_name_the_world_the_runs_emulator_was_trained_on(tmp_path: Path) -> None:
    emulator = tmp_path / "ia" / "emulator"
    emulator.mkdir(parents=True)
    world = {"halo_catalog": "iaemu-nbody-default", "Lbox": 64.0, "satellites": "NFW in an ellipsoid"}
    (emulator / "emulator.json").write_text(json.dumps({"training": {"data": {"world": world}}}))
    lines = [line for line in headlines(tmp_path) if line.startswith("IA world")]
    assert lines == [
        "IA world of this run: iaemu-nbody-default (64 Mpc/h box), satellites NFW in an ellipsoid; "
        "the shipped emulator's (iaemu fit without --emulator): iaemu default-emulator show"
    ]
    (emulator / "emulator.json").write_text(json.dumps({"training": {"data": {}}}))  # an older artifact
    assert not [line for line in headlines(tmp_path) if line.startswith("IA world")]
