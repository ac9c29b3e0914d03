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


@pytest.mark.parametrize("seed", [-1, 2**32, 99999999999999999999999, 1.5, True, "3"])
def test_a_seed_outside_0_to_2_32_minus_1_is_refused(seed) -> None:
    from common.errors import SEED_MAX, check_seed

    assert check_seed(SEED_MAX) == SEED_MAX and check_seed(0) == 0
    with pytest.raises(InputError, match=r"^seed: .*expected an integer in 0\.\.4294967295"):
        check_seed(seed)


@pytest.mark.parametrize(("value", "kwargs", "expected"), [
    (1.5, {"lo": 0, "hi": 1, "open_lo": True, "open_hi": True}, "a number in (0, 1)"),
    (float("nan"), {"lo": 0}, "a number >= 0"),
    (0, {"lo": 1, "integer": True}, "an integer >= 1"),
    (2.0, {"lo": 1, "integer": True}, "an integer >= 1"),
])
def test_check_number_states_the_range(value, kwargs, expected) -> None:
    from common.errors import check_number

    with pytest.raises(InputError) as err:
        check_number(value, "x", **kwargs)
    assert str(err.value).startswith("x: ") and str(err.value).endswith(f": expected {expected}")
