"""Shared pieces of the command-line interfaces: error handling, common options, the version."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, TypeVar

import typer

from common.errors import InputError

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


def print_error(message: str) -> None:
    """Print `message` as one line on stderr, prefixed with `error: `."""
    print("error: " + " ".join(message.split()), file=sys.stderr)


def fail(message: str) -> None:
    """Print the message on one line on stderr and exit with code 2 (bad input)."""
    print_error(message)
    raise typer.Exit(code=2)


def user_errors(func: F) -> F:
    """Decorate a command so bad input ends in one line and exit 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as err:
            fail(str(err))

    return wrapper  # type: ignore[return-value]



def version_callback(value: bool) -> None:
    """Print the version and stop (for `--version`)."""
    if value:
        print(package_version())
        raise typer.Exit()


VersionOption = Annotated[
    bool,
    typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version and exit."),
]


def run_app(app: typer.Typer) -> None:
    """Run a command-line app so that a usage error (unknown option, bad value) is one line and exit 2."""
    try:
        code = app(standalone_mode=False)
    except Exception as err:
        if getattr(err, "exit_code", None) != 2 or not hasattr(err, "format_message"):
            raise
        ctx = getattr(err, "ctx", None)
        if type(err).__name__ == "NoArgsIsHelpError" and ctx is not None:  # bare `iaemu`: show the help
            print(ctx.get_help())
            sys.exit(0)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        print_error(where + err.format_message())
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
