"""The one parser for numbers clients write (plaza.core.numbers)."""

import pytest

from plaza.core.ids import MAX_ID
from plaza.core.numbers import parse_id, parse_natural


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("42", 42),
        ("0042", 42),  # leading zeros say nothing about size
        ("0" * 30 + "7", 7),
        (str(MAX_ID), MAX_ID),
        ("0" * 5 + str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("9" * 5_000, None),  # past int()'s 4,300-digit guard: refused before converting
        ("", None),
        (" 1", None),
        ("+1", None),
        ("-1", None),
        ("1_000", None),
        ("1.5", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits
        ("\u00b2", None),  # superscript two
    ],
)
def test_ids(text: str, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_clamping_caps_large_numbers_and_still_refuses_what_is_not_one() -> None:
    assert parse_natural("101", 100, clamp=True) == 100
    assert parse_natural("9" * 5_000, 100, clamp=True) == 100
    assert parse_natural("37", 100, clamp=True) == 37
    assert parse_natural("abc", 100, clamp=True) is None
