"""Campus card numbers: the Damm check digit catches every single wrong digit and every swap
of neighbouring digits; ``check_card_number`` takes what people type and says what is wrong."""

from __future__ import annotations

import random

import pytest

from idp.provisioning.card_numbers import (
    LENGTH,
    check_card_number,
    damm_digit,
    damm_valid,
    grouped,
    new_number,
)

# The published example of the Damm algorithm (572 -> 4) and fixed numbers drawn from a seeded
# generator (the same on every test worker).
_DRAW = random.Random(12)
_BODIES = ["10000000000", "99999999999", "90909090909",
           *(str(_DRAW.randrange(10**10, 10**11)) for _ in range(30))]
SAMPLES = ["5724", *(body + damm_digit(body) for body in _BODIES)]


def test_the_published_example() -> None:
    assert damm_digit("572") == "4"
    assert damm_valid("5724")
    assert not damm_valid("5723")


def test_new_numbers_have_twelve_digits_no_leading_zero_and_a_valid_check_digit() -> None:
    numbers = [new_number() for _ in range(500)]
    for number in numbers:
        assert len(number) == LENGTH and number.isdigit() and number[0] != "0"
        assert damm_valid(number)
    assert len(set(numbers)) == len(numbers)


@pytest.mark.parametrize("number", SAMPLES)
def test_every_single_wrong_digit_is_caught(number: str) -> None:
    for position in range(len(number)):
        for digit in "0123456789":
            if digit != number[position]:
                typo = number[:position] + digit + number[position + 1:]
                assert not damm_valid(typo), typo


@pytest.mark.parametrize("number", SAMPLES)
def test_every_swap_of_neighbours_is_caught(number: str) -> None:
    for position in range(len(number) - 1):
        a, b = number[position], number[position + 1]
        if a != b:
            swapped = number[:position] + b + a + number[position + 2:]
            assert not damm_valid(swapped), swapped


def test_every_adjacent_pair_is_caught_exhaustively() -> None:
    """All 90 ordered pairs of different digits, in every position of an 11-digit body
    (Luhn misses 09 <-> 90; Damm does not)."""
    for position in range(LENGTH - 1):
        for a in "0123456789":
            for b in "0123456789":
                if a != b:
                    body = ("1" * position + a + b + "7" * LENGTH)[:LENGTH - 1]
                    number = body + damm_digit(body)
                    swapped = number[:position] + number[position + 1] + number[position] \
                        + number[position + 2:]
                    assert not damm_valid(swapped), (number, swapped)


def test_check_card_number_accepts_spaces_and_dashes() -> None:
    number = new_number()
    assert check_card_number(grouped(number)) == (number, None)
    assert check_card_number(f" {number[:4]}-{number[4:8]}-{number[8:]} ") == (number, None)


@pytest.mark.parametrize(("typed", "says"), [
    ("", "No card number"),
    ("12345678901x", "digits only"),
    ("１２３４５６７８９０１２", "digits only"),  # full-width digits are not card digits
    ("1234567", "12 digits; this has 7"),
    ("0" + "5" * 11, "never starts with 0"),
])
def test_check_card_number_says_what_is_wrong(typed: str, says: str) -> None:
    number, problem = check_card_number(typed)
    assert number is None and problem is not None and says in problem


def test_one_wrong_digit_is_named_as_such() -> None:
    number = new_number()
    typo = number[:5] + str((int(number[5]) + 1) % 10) + number[6:]
    assert check_card_number(typo) == (None, "The check digit does not match: a digit was "
                                             "mistyped or two neighbouring digits were swapped.")
