"""Shared pieces of the command-line interfaces: error handling, common options, the version, and the one
place where a command's options and output path are checked before any work (docs/ARCHITECTURE.md 2)."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from common.device import DEVICE_NAMES
from common.errors import SEED_MAX, InputError, check_choice, check_number
from common.outputs import OutputKind, check_output, removed_on_input_error

F = TypeVar("F", bound=Callable[..., Any])


def in_range(lo: float | None = None, hi: float | None = None, *, open_lo: bool = False,
             open_hi: bool = False, integer: bool = False) -> Callable[[Any], Any]:
    """A typer option callback: the value (None passes) must be a finite number in lo..hi, each end closed
    unless ``open_lo``/``open_hi``; else a usage error naming the flag (one line, exit 2)."""

    def callback(value: Any) -> Any:
        if value is not None:
            try:
                check_number(value, "value", lo, hi, open_lo=open_lo, open_hi=open_hi, integer=integer)
            except InputError as err:
                raise typer.BadParameter(str(err).removeprefix("value: ")) from err
        return value

    return callback


def one_of(choices: Any) -> Callable[[Any], Any]:
    """A typer option callback: the value must be one of ``choices`` (a Literal type or a tuple)."""

    def callback(value: Any) -> Any:
        try:
            check_choice(value, choices, "value")
        except InputError as err:
            raise typer.BadParameter(str(err).removeprefix("value: ")) from err
        return value

    return callback


SeedOption = Annotated[int, typer.Option(
    "--seed", callback=in_range(0, SEED_MAX, integer=True),
    help=f"Random seed in 0..{SEED_MAX}; the same seed gives the same numbers.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Hide progress bars.")]
DeviceOption = Annotated[str, typer.Option("--device", callback=one_of(DEVICE_NAMES),
                                           help="auto | cpu | cuda (auto: CUDA when present).")]


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


def checked_output(param: str, kind: OutputKind, *, inputs: Sequence[str] = (),
                   own: Callable[[Path], bool] | None = None, what: str = "output") -> Callable[[F], F]:
    """Decorate a command (under :func:`user_errors`) so that its output path, the argument ``param``, is
    checked before any work (:func:`common.outputs.check_output`: kind, parent, writability, never one of
    the arguments named in ``inputs``, an existing one only if ``own`` says the command wrote it), and what
    the run creates beside it is removed if the run ends in an InputError (docs/ARCHITECTURE.md 2)."""

    def decorate(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            out = check_output(bound.arguments[param], kind, own=own, what=what,
                               inputs=[bound.arguments[name] for name in inputs])
            with removed_on_input_error(out):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def named_values(items: list[str] | None, option: str, expected: str) -> dict[str, str]:
    """Repeated NAME=TEXT options as {NAME: TEXT}; one line naming `option` for an item without a name or
    '=', or a name given twice."""
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"{option}: '{item}': expected {expected}")
        if name in out:
            raise InputError(f"{option}: '{name}' given twice: expected each parameter once")
        out[name] = text
    return out


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
