"""Numbers as written: what one is, that a split is always caught, and that joins never glue two into one."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.compressor import changed_numbers, numbers_in
from pytest_oxbot.compressor.text import join_numbers, plain

from .factcheck import numbers_kept_as_written


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("$17,500 notional = ~$17.50 in fees", ["$17,500", "~$17.50"]),
        ("range 383–405, ratio 0.14x, move -4.0%", ["383–405", "0.14x", "-4.0%"]),
        ("P&L $+67.95 (+1.52%)", ["$+67.95", "+1.52%"]),
        ("funding 1.25e-05 at 07:03 on 2025-10-28", ["1.25e-05", "07:03", "2025-10-28"]),
        ("EMA20 and rsi7 hold no number; RSI(14) holds one", ["14"]),
        ("[1,2,3] and [100, 200]", ["1", "2", "3", "100", "200"]),
        ("cap 1,234,567.5 and 12345,678", ["1,234,567.5", "12345", "678"]),
    ],
)
def test_numbers_as_written(text: str, numbers: list[str]) -> None:
    assert numbers_in(text) == numbers


money = st.decimals(min_value=1000, max_value=10**9, places=2).map(lambda d: f"{d:,.2f}")


@settings(max_examples=200, deadline=None)
@given(money, st.sampled_from(["$", "", "~$", "-$"]), st.data())
def test_any_split_of_a_separated_number_is_caught(number: str, prefix: str, data: st.DataObject) -> None:
    original = f"notional {prefix}{number} today"
    commas = [i for i, c in enumerate(number) if c == ","]
    at = data.draw(st.sampled_from(commas))
    split = number[: at + 1] + data.draw(st.sampled_from([" ", "  ", "\n"])) + number[at + 1 :]
    mangled = f"notional {prefix}{split} today"
    assert changed_numbers(original, mangled)
    assert numbers_kept_as_written(original, mangled)


value = st.one_of(
    st.integers(-5000, 5000).map(str),
    st.decimals(min_value=Decimal("-999"), max_value=Decimal("999"), places=3).map(str),
    st.sampled_from(["1,000", "2,345.5", "1e5", "0.14x", "-4.0%", "$12"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(value, min_size=2, max_size=8))
def test_a_join_never_glues_two_numbers_into_one(values: list[str]) -> None:
    assert numbers_in(join_numbers(values)) == values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**Price**: $1", "Price: $1"),
        ("$**17,500**", "$**17,500**"),  # taking the markers out would make `$17,500` out of `17,500`
        ("**5**%", "**5**%"),
        ("5*3*2", "5*3*2"),
        ("🟢 BULLISH", "BULLISH"),
        ("Trend: 🟢", "Trend: 🟢"),
        ("a  b\tc", "a b c"),
    ],
)
def test_decoration_never_touches_a_number(text: str, expected: str) -> None:
    assert plain(text) == expected
    assert changed_numbers(text, plain(text)) == []
