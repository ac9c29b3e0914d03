"""The two console scripts: help lists every subcommand, --version, and misuse exits 2 with a message."""

import subprocess
import sys
from pathlib import Path

import pytest

from cli.common import package_version

BIN = Path(sys.executable).parent
IAEMU_COMMANDS = ["halos", "simulate", "train", "evaluate", "fit", "validate", "observation"]
TOPTAG_COMMANDS = ["generate", "mix", "train", "evaluate", "predict", "fit"]


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


def test_unknown_command_is_a_usage_error() -> None:
    result = run("iaemu", "frobnicate")
    assert result.returncode == 2
    assert "frobnicate" in result.stderr


@pytest.mark.parametrize(
    "argv",
    [["iaemu", "simulate", "--bogus"], ["iaemu", "train", "--bogus"], ["toptag", "generate", "--bogus"],
     ["toptag", "fit", "--bogus"], ["toptag", "train", "--bogus"]],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_unknown_option_is_refused(argv: list[str]) -> None:
    result = run(*argv)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "No such option: --bogus" in lines[0], result.stderr
