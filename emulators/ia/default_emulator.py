"""The emulator that ships with the toolkit: used by ``iaemu fit`` when ``--emulator`` is omitted.

It lives in ``emulators/ia/artifacts/default/`` (emulator.json, weights.safetensors and the ``metrics.json``
of its evaluation on an independent test file) and is rebuilt by the workflow target ``default_emulator``
(``workflows/config/default.yaml``), which trains on an embedded halo catalog (``wide`` now; the artifact
shipped today was trained on ``default``, docs/ARCHITECTURE.md 4.2) and then calls
:func:`install_default_emulator`. The artifact must stay within :data:`MAX_BYTES`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from common.atomic import atomic_directory
from common.errors import InputError
from emulators.artifact_files import EMULATOR_JSON, WEIGHTS

DEFAULT_EMULATOR_DIR = Path(__file__).resolve().parent / "artifacts" / "default"
ARTIFACT_FILES = (EMULATOR_JSON, WEIGHTS)  # what a shipped emulator holds besides metrics.json
MAX_BYTES = 5 * 1024**2  # the repository commits no generated file over 5 MB


def default_emulator_path() -> Path:
    """The shipped emulator's directory; InputError when this installation has none."""
    if not all((DEFAULT_EMULATOR_DIR / name).is_file() for name in ARTIFACT_FILES):
        raise InputError(
            f"--emulator: no default emulator in {DEFAULT_EMULATOR_DIR}; pass --emulator DIR (an artifact "
            "written by `iaemu train`) or rebuild it with the workflow target `default_emulator`"
        )
    return DEFAULT_EMULATOR_DIR


def default_emulator_metrics() -> dict:
    """The evaluation metrics (``iaemu evaluate``'s metrics.json) that ship with the default emulator."""
    return json.loads((default_emulator_path() / "metrics.json").read_text())


def install_default_emulator(
    artifact: str | os.PathLike[str],
    metrics: str | os.PathLike[str],
    dest: str | os.PathLike[str] = DEFAULT_EMULATOR_DIR,
) -> Path:
    """Copy an artifact directory and its evaluation ``metrics.json`` into ``dest`` (atomically).

    Refuses an artifact whose files are missing or larger than :data:`MAX_BYTES` together.
    """
    artifact, metrics, dest = Path(artifact), Path(metrics), Path(dest)
    sources = [artifact / name for name in ARTIFACT_FILES] + [metrics]
    for path in sources:
        if not path.is_file():
            raise InputError(f"{path}: expected a file ({', '.join(ARTIFACT_FILES)} and metrics.json)")
    size = sum(path.stat().st_size for path in sources)
    if size > MAX_BYTES:
        raise InputError(f"{artifact}: {size / 1024**2:.1f} MB; the shipped emulator must stay within "
                         f"{MAX_BYTES / 1024**2:.0f} MB")
    with atomic_directory(dest) as tmp:
        for path in sources:
            shutil.copyfile(path, tmp / path.name)
    return dest
