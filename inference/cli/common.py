"""Shared pieces of the command-line interfaces: error handling, common options, the version."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, TypeVar

import typer

from catalogs.errors import InputError, NotBuiltError

F = TypeVar("F", bound=Callable[..., Any])

SeedOption = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same numbers.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Hide progress bars.")]
DeviceOption = Annotated[str, typer.Option("--device", help="auto | cpu | cuda (auto: CUDA when present).")]


def package_version() -> str:
    """The installed version of the `iaemu` distribution."""
    try:
        return version("iaemu")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def fail(message: str) -> None:
    """Print one line on stderr and exit with code 2 (bad input or unbuilt command)."""
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code=2)


def user_errors(func: F) -> F:
    """Decorate a command so bad input and unbuilt parts end in one line and exit 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (InputError, NotBuiltError) as err:
            fail(str(err))

    return wrapper  # type: ignore[return-value]


def not_built(command: str, issue: int) -> None:
    """Refuse a planned command that does not exist yet, naming the issue that builds it."""
    raise NotBuiltError(f"'{command}' is not built yet (planned in issue #{issue}).")


def version_callback(value: bool) -> None:
    """Print the version and stop (for `--version`)."""
    if value:
        print(package_version())
        raise typer.Exit()


VersionOption = Annotated[
    bool,
    typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version and exit."),
]

# Settings for a planned command's stub: it accepts any arguments so that it can answer with its one line.
STUB_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}
