"""Snapshots and candles with Decimal prices: Binance sends prices as strings, and so do we keep them exact.

A float never touches a price here: a number that arrives as a JSON float instead of a string is a
`MalformedResponseError`, because `Decimal(0.1)` would silently carry binary rounding into every order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pytest_oxbot.market.errors import MalformedResponseError

__all__ = ["INTERVAL_SECONDS", "Candle", "Snapshot", "SnapshotBatch", "SymbolFailure", "parse_decimal"]

INTERVAL_SECONDS: dict[str, int] = {
    "1s": 1, "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200,
    "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200, "1w": 604800,
}  # fmt: skip
"""Binance kline intervals with a fixed length (`1M` is calendar-based and not supported)."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
# Binance's number strings: ASCII digits, an optional sign and fraction. Python's Decimal would also take
# "١٢٣" (Arabic-Indic digits), "1e9", "Infinity" and "1_000"; none of them is a price the exchange sends.
_DECIMAL = re.compile(r"\A-?[0-9]{1,30}(?:\.[0-9]{1,30})?\Z")


def parse_decimal(value: Any, field: str) -> Decimal:
    """A price or quantity string to Decimal, exactly; floats and junk are malformed answers."""
    if not isinstance(value, str):
        raise MalformedResponseError(
            f"{field} must be a decimal string, got {type(value).__name__} {value!r:.60}"
        )
    if not _DECIMAL.match(value):
        raise MalformedResponseError(f"{field} is not a plain decimal number: {value!r:.60}")
    try:
        return Decimal(value)
    except InvalidOperation:  # unreachable after the pattern, kept as a guard
        raise MalformedResponseError(f"{field} is not a decimal number: {value!r:.60}") from None


def _check_ticker(s: Snapshot) -> None:
    """Prices a real order book and a 24 h window cannot have; each one fails this symbol only."""
    for name in ("last_price", "high_price", "low_price"):
        if getattr(s, name) <= 0:
            raise MalformedResponseError(f"{_camel(name)} must be positive, got {getattr(s, name)}")
    for name in ("open_price", "prev_close_price", "weighted_avg_price", "volume", "quote_volume"):
        if getattr(s, name) < 0:
            raise MalformedResponseError(f"{_camel(name)} must not be negative, got {getattr(s, name)}")
    if s.bid_price <= 0 or s.ask_price <= 0:
        raise MalformedResponseError(
            f"no order book: bidPrice {s.bid_price}, askPrice {s.ask_price} (both must be positive)"
        )
    if s.ask_price < s.bid_price:
        raise MalformedResponseError(f"crossed book: askPrice {s.ask_price} below bidPrice {s.bid_price}")
    if s.high_price < s.low_price:
        raise MalformedResponseError(f"highPrice {s.high_price} below lowPrice {s.low_price}")
    if not s.low_price <= s.last_price <= s.high_price:
        raise MalformedResponseError(
            f"lastPrice {s.last_price} outside the 24 h range {s.low_price}..{s.high_price}"
        )
    if s.trade_count < 0:
        raise MalformedResponseError(f"count must not be negative, got {s.trade_count}")
    if s.close_time < s.open_time:
        raise MalformedResponseError("closeTime before openTime")


def _check_candle(c: Candle) -> None:
    if min(c.open, c.high, c.low, c.close) <= 0:
        raise MalformedResponseError(f"kline for {c.symbol} at {c.open_time} has a non-positive price")
    if not (c.low <= min(c.open, c.close) and max(c.open, c.close) <= c.high):
        raise MalformedResponseError(
            f"kline for {c.symbol} at {c.open_time}: open/close outside low..high ({c.low}..{c.high})"
        )
    if c.volume < 0 or c.quote_volume < 0 or c.trades < 0:
        raise MalformedResponseError(f"kline for {c.symbol} at {c.open_time} has a negative volume or count")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _ms_to_dt(value: Any, field: str) -> datetime:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedResponseError(f"{field} must be integer milliseconds, got {value!r}")
    return _EPOCH + timedelta(milliseconds=value)


def _dt_to_ms(value: datetime) -> int:
    return (value - _EPOCH) // _MS


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One symbol's 24 h rolling ticker (`GET /api/v3/ticker/24hr`, FULL shape)."""

    symbol: str
    exchange_symbol: str
    last_price: Decimal
    bid_price: Decimal
    ask_price: Decimal
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    prev_close_price: Decimal
    price_change: Decimal
    price_change_percent: Decimal
    weighted_avg_price: Decimal
    volume: Decimal
    quote_volume: Decimal
    open_time: datetime
    close_time: datetime
    trade_count: int

    @classmethod
    def from_binance(cls, symbol: str, raw: Mapping[str, Any]) -> Snapshot:
        """Build from one element of the REST answer; `symbol` is the caller's unified name."""
        try:
            count = raw["count"]
            if not isinstance(count, int) or isinstance(count, bool):
                raise MalformedResponseError(f"count must be an integer, got {count!r:.60}")
            snapshot = cls(
                symbol=symbol,
                exchange_symbol=str(raw["symbol"]),
                last_price=parse_decimal(raw["lastPrice"], "lastPrice"),
                bid_price=parse_decimal(raw["bidPrice"], "bidPrice"),
                ask_price=parse_decimal(raw["askPrice"], "askPrice"),
                open_price=parse_decimal(raw["openPrice"], "openPrice"),
                high_price=parse_decimal(raw["highPrice"], "highPrice"),
                low_price=parse_decimal(raw["lowPrice"], "lowPrice"),
                prev_close_price=parse_decimal(raw["prevClosePrice"], "prevClosePrice"),
                price_change=parse_decimal(raw["priceChange"], "priceChange"),
                price_change_percent=parse_decimal(raw["priceChangePercent"], "priceChangePercent"),
                weighted_avg_price=parse_decimal(raw["weightedAvgPrice"], "weightedAvgPrice"),
                volume=parse_decimal(raw["volume"], "volume"),
                quote_volume=parse_decimal(raw["quoteVolume"], "quoteVolume"),
                open_time=_ms_to_dt(raw["openTime"], "openTime"),
                close_time=_ms_to_dt(raw["closeTime"], "closeTime"),
                trade_count=count,
            )
        except KeyError as exc:
            raise MalformedResponseError(f"ticker for {symbol} lacks field {exc.args[0]!r}") from None
        except TypeError as exc:
            raise MalformedResponseError(f"ticker for {symbol} is not an object: {exc}") from None
        _check_ticker(snapshot)
        return snapshot


@dataclass(frozen=True, slots=True)
class Candle:
    """One kline; `close_time` is Binance's (open + interval - 1 ms)."""

    symbol: str
    interval: str
    open_time: datetime
    close_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int

    @property
    def open_time_ms(self) -> int:
        return _dt_to_ms(self.open_time)

    @property
    def close_time_ms(self) -> int:
        return _dt_to_ms(self.close_time)

    def is_closed(self, now: float) -> bool:
        """Whether the candle had closed at epoch second `now`."""
        return self.close_time_ms < now * 1000

    @classmethod
    def from_binance(cls, symbol: str, interval: str, row: Sequence[Any]) -> Candle:
        """Build from one `GET /api/v3/klines` row: `[openTime, "o", "h", "l", "c", "v", closeTime, ...]`."""
        if not isinstance(row, Sequence) or isinstance(row, str) or len(row) < 9:
            raise MalformedResponseError(f"kline row for {symbol} is not a 12-field array: {row!r}")
        trades = row[8]
        if not isinstance(trades, int) or isinstance(trades, bool):
            raise MalformedResponseError(f"kline trade count must be an integer, got {trades!r:.60}")
        candle = cls(
            symbol=symbol,
            interval=interval,
            open_time=_ms_to_dt(row[0], "openTime"),
            close_time=_ms_to_dt(row[6], "closeTime"),
            open=parse_decimal(row[1], "open"),
            high=parse_decimal(row[2], "high"),
            low=parse_decimal(row[3], "low"),
            close=parse_decimal(row[4], "close"),
            volume=parse_decimal(row[5], "volume"),
            quote_volume=parse_decimal(row[7], "quoteVolume"),
            trades=trades,
        )
        _check_candle(candle)
        return candle


@dataclass(frozen=True, slots=True)
class SymbolFailure:
    """Why a symbol of a batch has no snapshot."""

    reason: str
    code: int | None = None


class SnapshotBatch(dict[str, Snapshot | None]):
    """`{symbol: Snapshot | None}` in request order; `reasons[symbol]` says why a value is None."""

    def __init__(self) -> None:
        super().__init__()
        self.reasons: dict[str, SymbolFailure] = {}

    @property
    def ok(self) -> dict[str, Snapshot]:
        """Only the symbols that have a snapshot."""
        return {k: v for k, v in self.items() if v is not None}
