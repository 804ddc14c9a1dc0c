"""CompressedMarketData: last 100 prices, gzip, lossless and deterministic."""

from __future__ import annotations

import gzip
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.reference_bot.sample import recorded_candles
from pytest_oxbot.compressor import CompressedMarketData

finite = st.decimals(
    allow_nan=False, allow_infinity=False, min_value=Decimal("-1e12"), max_value=Decimal("1e12")
)


@settings(max_examples=100, deadline=None)
@given(st.lists(finite, max_size=250), st.integers(min_value=1, max_value=150))
def test_round_trip_is_exact_and_keeps_the_last_n(prices: list[Decimal], keep: int) -> None:
    packed = CompressedMarketData.from_prices("BTC", prices, keep=keep)
    restored = packed.prices()
    assert restored == prices[-keep:]
    assert [str(p) for p in restored] == [str(p) for p in prices[-keep:]]  # digits and exponent too
    assert packed.count == len(restored)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), max_size=120))
def test_floats_round_trip_to_the_same_float(prices: list[float]) -> None:
    restored = CompressedMarketData.from_prices("ETH", prices).prices()
    assert [float(p) for p in restored] == prices[-100:]


def test_real_series_compresses_and_is_deterministic() -> None:
    closes = [c.close for c in recorded_candles("BTC/USDT", "15m", limit=1000)]
    a = CompressedMarketData.from_prices("BTC", closes)
    b = CompressedMarketData.from_prices("BTC", closes)
    assert a.payload == b.payload  # no timestamp in the gzip header
    assert a.count == 100
    assert a.prices() == closes[-100:]
    assert a.ratio < 0.6


def test_string_prices_keep_their_digits() -> None:
    packed = CompressedMarketData.from_prices("XRP", ["2.65395", "2.6500", "1E+2"])
    assert [str(p) for p in packed.prices()] == ["2.65395", "2.6500", "1E+2"]


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "abc", float("nan")])
def test_rejects_non_prices(bad: object) -> None:
    with pytest.raises(ValueError, match="price"):
        CompressedMarketData.from_prices("BTC", [bad])  # type: ignore[list-item]


def test_rejects_a_decompression_bomb() -> None:
    bomb = gzip.compress(b"[" + b" " * (2 << 20) + b"]", mtime=0)
    with pytest.raises(ValueError, match="limit"):
        CompressedMarketData("BTC", bomb, 0, 0).prices()


def test_rejects_a_tampered_count() -> None:
    packed = CompressedMarketData.from_prices("BTC", ["1", "2"])
    with pytest.raises(ValueError, match="corrupt"):
        CompressedMarketData("BTC", packed.payload, 3, packed.raw_size).prices()


def test_keep_must_be_positive() -> None:
    with pytest.raises(ValueError, match="keep"):
        CompressedMarketData.from_prices("BTC", ["1"], keep=0)
