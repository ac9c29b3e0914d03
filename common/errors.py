"""Errors that mean "the user's input is wrong", as opposed to a bug.

Every layer raises :class:`InputError` for bad input; the command-line layer turns it into one line on
stderr and exit code 2 (docs/ARCHITECTURE.md section 2).
"""

from __future__ import annotations

from typing import Any, get_args


class InputError(ValueError):
    """Bad user input: the message names the file, the field and what was expected."""


def check_choice(value: Any, choices: Any, name: str) -> None:
    """InputError naming ``name`` unless ``value`` is one of ``choices``: a ``Literal[...]`` type (the one
    definition of a choice) or a tuple of its values."""
    allowed = get_args(choices) or tuple(choices)
    if value not in allowed:
        raise InputError(f"{name}: '{value}': expected one of {', '.join(map(str, allowed))}")
