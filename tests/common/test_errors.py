"""A choice is defined once, as a Literal type, and checked against it with a message naming the field."""

from typing import Literal

import pytest

from common.errors import InputError, check_choice

Colour = Literal["red", "green"]


@pytest.mark.parametrize("choices", [Colour, ("red", "green")])
def test_a_choice_is_checked_against_its_literal_or_tuple(choices) -> None:
    check_choice("green", choices, "colour")
    with pytest.raises(InputError, match=r"^colour: 'blue': expected one of red, green$"):
        check_choice("blue", choices, "colour")
