"""The fake exchange's data: recorded Binance candles, and 24 h tickers derived from them at a replay time.

Candles are the shipped recordings (`pytest_oxbot/data/market/candles`), loaded with importlib.resources.
A ticker is computed only from candles that had closed at the replay time (no look-ahead) and has exactly
the keys, key order and value types of the real `GET /api/v3/ticker/24hr` answer. Fields the recordings
cannot know (order book, trade ids) get neutral values: bid = ask = last price, quantities 0, ids -1.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from importlib import resources
from typing import Any

from pytest_oxbot.errors import FakeError

__all__ = ["CandleSeries", "MarketData", "ReplayRangeError", "fmt8"]

Row = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]
_EIGHT = Decimal("0.00000001")
_INTERVAL_MS = {"15m": 900_000, "1h": 3_600_000}
_DAY_MS = 86_400_000


def _dec(x: float) -> Decimal:
    """The recorded number exactly as written in the JSON (repr is the shortest round-trip form)."""
    return Decimal(repr(x))


def fmt8(value: Decimal) -> str:
    """Binance's price/quantity string: 8 decimals."""
    return f"{value.quantize(_EIGHT, rounding=ROUND_HALF_EVEN):f}"


class CandleSeries:
    """One symbol and interval: rows `(open_ms, o, h, l, c, v)` with Decimal prices, oldest first."""

    __slots__ = ("_opens", "interval", "rows", "step_ms", "symbol")

    def __init__(self, symbol: str, interval: str, rows: tuple[Row, ...]) -> None:
        if not rows:
            raise ValueError(f"no candles for {symbol} {interval}")
        self.symbol = symbol
        self.interval = interval
        self.rows = rows
        self.step_ms = _INTERVAL_MS[interval]
        self._opens = [r[0] for r in rows]

    def opened_by(self, t_ms: int) -> int:
        """How many candles had opened at `t_ms` (index of the forming candle + 1)."""
        return bisect_right(self._opens, t_ms)

    def closed_by(self, t_ms: int) -> int:
        """How many candles had closed at `t_ms`."""
        return bisect_right(self._opens, t_ms - self.step_ms)

    def opened_before(self, t_ms: int) -> int:
        """How many candles opened strictly before `t_ms`."""
        return bisect_left(self._opens, t_ms)

    @property
    def first_open_ms(self) -> int:
        return self.rows[0][0]

    @property
    def end_ms(self) -> int:
        """When the last recorded candle closes."""
        return self.rows[-1][0] + self.step_ms


class MarketData:
    """The recorded candles by exchange symbol (`BTCUSDT`) and interval (`1h`, `15m`)."""

    def __init__(self, series: dict[tuple[str, str], CandleSeries]) -> None:
        if not series:
            raise ValueError("MarketData needs at least one candle series")
        self.series = series

    @classmethod
    def shipped(cls) -> MarketData:
        """The real recordings shipped in the package (BTC, ETH, SOL, BNB, XRP /USDT, 1h and 15m)."""
        return _shipped()

    @property
    def symbols(self) -> list[str]:
        return sorted({s for s, _ in self.series})

    def intervals(self, symbol: str) -> list[str]:
        return sorted((i for s, i in self.series if s == symbol), key=lambda i: _INTERVAL_MS[i])

    def klines(self, symbol: str, interval: str, limit: int, t_ms: int) -> list[list[Any]]:
        """The last `limit` klines opened by `t_ms`, in the REST shape; the forming one has only closed parts.

        The forming candle is rebuilt from the finer recorded candles that had closed by `t_ms` (or is flat
        at its open when there are none), so the fake never leaks a price from after the replay time.
        """
        series = self.series[(symbol, interval)]
        end = series.opened_by(t_ms)
        rows = series.rows[max(0, end - limit) : end]
        out: list[list[Any]] = []
        for row in rows:
            if row[0] + series.step_ms <= t_ms:
                out.append(_kline(row, series.step_ms))
            else:
                out.append(_kline(self._forming(symbol, interval, row, t_ms), series.step_ms))
        return out

    def _forming(self, symbol: str, interval: str, row: Row, t_ms: int) -> Row:
        open_ms, open_ = row[0], row[1]
        for finer in self.intervals(symbol):
            if _INTERVAL_MS[finer] >= _INTERVAL_MS[interval]:
                continue
            fs = self.series[(symbol, finer)]
            parts = [r for r in fs.rows[: fs.closed_by(t_ms)] if r[0] >= open_ms]
            if parts:
                return (
                    open_ms,
                    open_,
                    max(p[2] for p in parts),
                    min(p[3] for p in parts),
                    parts[-1][4],
                    sum((p[5] for p in parts), Decimal(0)),
                )
        return (open_ms, open_, open_, open_, open_, Decimal(0))

    def ticker(self, symbol: str, t_ms: int) -> dict[str, Any]:
        """The 24 h rolling ticker at `t_ms` from the finest series with a closed candle by then."""
        series = self._ticker_series(symbol, t_ms)
        end = series.closed_by(t_ms)
        start = series.opened_before(t_ms - _DAY_MS)
        window = series.rows[start:end] or series.rows[end - 1 : end]
        first, last = window[0], window[-1]
        prev_close = series.rows[start - 1][4] if start > 0 else first[1]
        open_, close = first[1], last[4]
        volume = sum((r[5] for r in window), Decimal(0))
        quote_volume = sum((r[5] * (r[2] + r[3] + r[4]) / 3 for r in window), Decimal(0))
        weighted = quote_volume / volume if volume else close
        change = close - open_
        percent = (change / open_ * 100).quantize(Decimal("0.001")) if open_ else Decimal(0)
        return {
            "symbol": symbol,
            "priceChange": fmt8(change),
            "priceChangePercent": str(percent),
            "weightedAvgPrice": fmt8(weighted),
            "prevClosePrice": fmt8(prev_close),
            "lastPrice": fmt8(close),
            "lastQty": fmt8(Decimal(0)),
            "bidPrice": fmt8(close),
            "bidQty": fmt8(Decimal(0)),
            "askPrice": fmt8(close),
            "askQty": fmt8(Decimal(0)),
            "openPrice": fmt8(open_),
            "highPrice": fmt8(max(r[2] for r in window)),
            "lowPrice": fmt8(min(r[3] for r in window)),
            "volume": fmt8(volume),
            "quoteVolume": fmt8(quote_volume),
            "openTime": t_ms - _DAY_MS,
            "closeTime": t_ms,
            "firstId": -1,
            "lastId": -1,
            "count": 0,
        }

    def _ticker_series(self, symbol: str, t_ms: int) -> CandleSeries:
        candidates = [self.series[(symbol, i)] for i in self.intervals(symbol)]
        usable = [s for s in candidates if s.closed_by(t_ms) > 0 and t_ms <= s.end_ms]
        if not usable:
            raise ReplayRangeError(symbol, t_ms, candidates)
        covering = [s for s in usable if s.first_open_ms <= t_ms - _DAY_MS]
        return (covering or usable)[0]

    def covers(self, symbol: str, interval: str, t_ms: int) -> bool:
        series = self.series.get((symbol, interval))
        return series is not None and series.opened_by(t_ms) > 0 and t_ms <= series.end_ms


class ReplayRangeError(FakeError, LookupError):
    """The replay time lies outside the recorded data: say so instead of inventing prices."""

    def __init__(self, symbol: str, t_ms: int, series: list[CandleSeries]) -> None:
        spans = ", ".join(f"{s.interval}: {s.first_open_ms}..{s.end_ms}" for s in series)
        super().__init__(f"no recorded {symbol} candles around replay time {t_ms} ms (recorded {spans})")


def _kline(row: Row, step_ms: int) -> list[Any]:
    open_ms, o, h, lo, c, v = row
    quote = v * (h + lo + c) / 3
    return [
        open_ms,
        fmt8(o),
        fmt8(h),
        fmt8(lo),
        fmt8(c),
        fmt8(v),
        open_ms + step_ms - 1,
        fmt8(quote),
        0,
        fmt8(Decimal(0)),
        fmt8(Decimal(0)),
        "0",
    ]


@cache
def _shipped() -> MarketData:
    root = resources.files("pytest_oxbot") / "data" / "market" / "candles"
    series: dict[tuple[str, str], CandleSeries] = {}
    for entry in root.iterdir():
        name = entry.name
        if not name.endswith(".json"):
            continue
        pair, interval = name[: -len(".json")].rsplit("-", 1)
        symbol = pair.replace("_", "")
        raw = json.loads(entry.read_text(encoding="utf-8"))
        rows = tuple((int(r[0]), _dec(r[1]), _dec(r[2]), _dec(r[3]), _dec(r[4]), _dec(r[5])) for r in raw)
        series[(symbol, interval)] = CandleSeries(symbol, interval, rows)
    return MarketData(series)
