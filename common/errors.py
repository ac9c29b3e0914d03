"""Errors that mean "the user's input is wrong", as opposed to a bug.

Every layer raises :class:`InputError` for bad input; the command-line layer turns it into one line on
stderr and exit code 2 (docs/ARCHITECTURE.md section 2).
"""

from __future__ import annotations

import math
from typing import Any, get_args

import numpy as np


class InputError(ValueError):
    """Bad user input: the message names the file, the field and what was expected."""


def check_choice(value: Any, choices: Any, name: str) -> None:
    """InputError naming ``name`` unless ``value`` is one of ``choices``: a ``Literal[...]`` type (the one
    definition of a choice) or a tuple of its values."""
    allowed = get_args(choices) or tuple(choices)
    if value not in allowed:
        raise InputError(f"{name}: '{value}': expected one of {', '.join(map(str, allowed))}")


SEED_MAX = 2**32 - 1  # the one seed range, 0..SEED_MAX: numpy, torch, JAX and Pythia take it (section 2)


def check_seed(seed: Any, name: str = "seed") -> int:
    """``seed`` as an int in 0..SEED_MAX, else an InputError naming ``name`` (docs/ARCHITECTURE.md 2)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= SEED_MAX:
        raise InputError(f"{name}: {seed!r}: expected an integer in 0..{SEED_MAX} (2**32-1)")
    return int(seed)


def check_number(value: Any, name: str, lo: float | None = None, hi: float | None = None, *,
                 open_lo: bool = False, open_hi: bool = False, integer: bool = False) -> None:
    """InputError naming ``name`` unless ``value`` is a finite number (an int if ``integer``) in the range
    lo..hi, each end closed unless ``open_lo``/``open_hi`` (docs/ARCHITECTURE.md 2)."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = not isinstance(value, bool) and isinstance(value, kinds) and math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if open_lo else value >= lo
    if ok and hi is not None:
        ok = value < hi if open_hi else value <= hi
    if not ok:
        raise InputError(f"{name}: {value!r}: expected {describe_range(lo, hi, open_lo, open_hi, integer)}")


def _text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def describe_range(lo: float | None, hi: float | None, open_lo: bool = False, open_hi: bool = False,
                   integer: bool = False) -> str:
    """'an integer >= 1', 'a number in (0, 1)', ...: the words of :func:`check_number`'s message."""
    what = "an integer" if integer else "a number"
    if lo is not None and hi is not None:
        return f"{what} in {'(' if open_lo else '['}{_text(lo)}, {_text(hi)}{')' if open_hi else ']'}"
    if lo is not None:
        return f"{what} {'>' if open_lo else '>='} {_text(lo)}"
    if hi is not None:
        return f"{what} {'<' if open_hi else '<='} {_text(hi)}"
    return f"a finite {'integer' if integer else 'number'}"

