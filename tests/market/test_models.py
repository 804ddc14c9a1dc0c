"""Symbols and models: unified names at the surface, exact Decimals from strings, floats refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from pytest_oxbot.market import (
    Candle,
    MalformedResponseError,
    Snapshot,
    SymbolError,
    from_exchange,
    to_exchange,
)


def recorded_tickers() -> list[dict[str, Any]]:
    path = resources.files("pytest_oxbot") / "data/market/ws-api_ticker.24hr_multi-symbol_FULL_response.json"
    result: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["result"]
    return result


@pytest.mark.parametrize(
    ("unified", "exchange"),
    [("BTC/USDT", "BTCUSDT"), ("eth/usdt", "ETHUSDT"), ("1000SATS/FDUSD", "1000SATSFDUSD")],
)
def test_unified_symbols_map_to_binance(unified: str, exchange: str) -> None:
    assert to_exchange(unified) == exchange


@pytest.mark.parametrize("bad", ["BTCUSDT", "BTC-USDT", "BTC/", "/USDT", "BTC/USDT/X", "", "BTC USDT"])
def test_malformed_symbol_is_a_symbol_error(bad: str) -> None:
    with pytest.raises(SymbolError, match="BASE/QUOTE"):
        to_exchange(bad)


def test_exchange_symbols_map_back() -> None:
    assert from_exchange("BTCUSDT") == "BTC/USDT"
    assert from_exchange("SOLFDUSD") == "SOL/FDUSD"
    with pytest.raises(SymbolError):
        from_exchange("USDT")


def test_snapshot_parses_the_real_recorded_answer_exactly() -> None:
    raw = next(t for t in recorded_tickers() if t["symbol"] == "BTCUSDT")
    snap = Snapshot.from_binance("BTC/USDT", raw)
    assert snap.last_price == Decimal("22880.91000000")
    assert str(snap.last_price) == raw["lastPrice"]  # digit for digit, no float on the way
    assert snap.quote_volume == Decimal("3571425225.04441220")
    assert snap.price_change == Decimal("-938.06000000")
    assert snap.open_time == datetime(2022, 8, 9, 3, 10, 15, 977000, tzinfo=UTC)
    assert snap.trade_count == 5281861
    assert (snap.symbol, snap.exchange_symbol) == ("BTC/USDT", "BTCUSDT")


def test_a_float_price_is_malformed_not_rounded() -> None:
    raw = dict(next(iter(recorded_tickers())))
    raw["lastPrice"] = 0.1
    with pytest.raises(MalformedResponseError, match="lastPrice must be a decimal string"):
        Snapshot.from_binance("BNB/BTC", raw)


@pytest.mark.parametrize(("field", "value"), [("lastPrice", "NaN"), ("bidPrice", "abc"), ("count", "7")])
def test_junk_fields_are_malformed(field: str, value: str) -> None:
    raw = dict(next(iter(recorded_tickers())))
    raw[field] = value
    with pytest.raises(MalformedResponseError):
        Snapshot.from_binance("BNB/BTC", raw)


def test_missing_field_is_malformed() -> None:
    raw = dict(next(iter(recorded_tickers())))
    del raw["askPrice"]
    with pytest.raises(MalformedResponseError, match="askPrice"):
        Snapshot.from_binance("BNB/BTC", raw)


def test_candle_from_kline_row() -> None:
    prices = ["89429.99", "89474.65", "89215.59", "89225.34", "137.07871"]
    row = [1769295600000, *prices, 1769299199999, "1.5", 42, "0", "0", "0"]
    candle = Candle.from_binance("BTC/USDT", "1h", row)
    assert candle.close == Decimal("89225.34")
    assert candle.open_time_ms == 1769295600000
    assert candle.close_time_ms == 1769299199999
    assert candle.close_time == datetime(2026, 1, 24, 23, 59, 59, 999000, tzinfo=UTC)
    assert candle.is_closed(1769299200.0)
    assert not candle.is_closed(1769299199.0)
    with pytest.raises(MalformedResponseError):
        Candle.from_binance("BTC/USDT", "1h", [*row[:1], 89429.99, *row[2:]])
