"""Errors that mean "the user's input is wrong", as opposed to a bug.

Every layer raises :class:`InputError` for bad input; the command-line layer turns it into one line on
stderr and exit code 2 (DESIGN.md section 2).
"""


class InputError(ValueError):
    """Bad user input: the message names the file, the field and what was expected."""
