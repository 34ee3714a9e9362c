"""Amounts as written in captions → numbers (resimply.offline.quantities)."""

import pytest

from resimply.offline.quantities import match_amount, parse_number, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("200", (200.0, None)),
        ("1.5", (1.5, None)),
        ("0,5", (0.5, None)),
        ("½", (0.5, None)),
        ("1½", (1.5, None)),
        ("1 ½", (1.5, None)),
        ("¾", (0.75, None)),
        ("1/2", (0.5, None)),
        ("1 1/2", (1.5, None)),
        ("1⁄3", (0.333, None)),
        ("2-3", (2.0, 3.0)),
        ("2–3", (2.0, 3.0)),
        ("2 - 3", (2.0, 3.0)),
        ("2 to 3", (2.0, 3.0)),
        ("2 bis 3", (2.0, 3.0)),
        ("1½-2", (1.5, 2.0)),
        ("1,000", (1000.0, None)),
        ("1.000", (1000.0, None)),
        ("0.125", (0.125, None)),
        ("two", (2.0, None)),
        ("zwei", (2.0, None)),
    ],
)
def test_parse_quantity(text: str, expected: tuple[float, float | None]) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "some", "a", "ein", "2 eggs", "1/0", "pinch"])
def test_parse_quantity_unknown_is_none(text: str) -> None:
    assert parse_quantity(text) == (None, None)


def test_a_reversed_range_keeps_only_the_first_number() -> None:
    amount = match_amount("3-2 eggs")
    assert amount is not None
    assert (amount.quantity, amount.quantity_max, amount.end) == (3.0, None, 1)


def test_match_amount_stops_before_an_attached_unit() -> None:
    amount = match_amount("200g spaghetti")
    assert amount is not None
    assert (amount.quantity, amount.end) == (200.0, 3)


def test_match_amount_does_not_read_words_inside_words() -> None:
    assert match_amount("tender beef") is None
    assert match_amount("onion") is None


def test_parse_number_rejects_garbage() -> None:
    assert parse_number("1/x") is None
    assert parse_number("abc") is None
    assert parse_number("2⅔") == 2.667
