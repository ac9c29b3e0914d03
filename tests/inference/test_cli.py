"""The two console scripts: help lists the planned subcommands, --version, and unbuilt commands exit 2."""

import subprocess
import sys
from pathlib import Path

import pytest

from inference.cli.common import package_version

BIN = Path(sys.executable).parent
IAEMU_COMMANDS = ["halos", "simulate", "train", "evaluate", "fit", "validate", "observation"]
TOPTAG_COMMANDS = ["generate", "train", "evaluate", "predict", "fit"]
# Commands still planned; each issue that builds one removes it from here and tests it for real.
UNBUILT = [
    ["iaemu", "halos", "build", "--preset", "tiny"],
    ["iaemu", "simulate"],
    ["iaemu", "train", "mocks.h5"],
    ["iaemu", "evaluate"],
    ["iaemu", "fit", "--tng", "data.h5"],
    ["iaemu", "validate"],
    ["iaemu", "observation", "import"],
    ["toptag", "generate", "--process", "top"],
    ["toptag", "train"],
    ["toptag", "evaluate"],
    ["toptag", "predict"],
    ["toptag", "fit"],
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("script", "commands"), [("iaemu", IAEMU_COMMANDS), ("toptag", TOPTAG_COMMANDS)])
def test_help_lists_every_planned_subcommand(script: str, commands: list[str]) -> None:
    result = run(script, "--help")
    assert result.returncode == 0
    listed = {line.strip("│ ").split(" ")[0] for line in result.stdout.splitlines()}
    assert set(commands) <= listed, result.stdout


@pytest.mark.parametrize("script", ["iaemu", "toptag"])
def test_version_is_the_package_version(script: str) -> None:
    result = run(script, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == package_version() != "0+unknown"


@pytest.mark.parametrize("argv", UNBUILT, ids=lambda argv: " ".join(argv[:3]))
def test_unbuilt_command_exits_2_with_one_line(argv: list[str]) -> None:
    result = run(*argv)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not built yet" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = run("iaemu", "frobnicate")
    assert result.returncode == 2
    assert "frobnicate" in result.stderr
