"""The fake exchange's data: recorded Binance candles, and 24 h tickers derived from them at a replay time.

Candles are the shipped recordings (`pytest_oxbot/data/market/`), loaded with importlib.resources, in
two windows:

- `binance-spot-2026`: the recorded 1h and 15m candles of 2025-12 .. 2026-02 (the default replay start);
- `binance-spot-5m-2021`: 18 days of recorded 5m candles (2021-04-25 12:00 .. 2021-05-13 12:00 UTC) and
  the 15m, 1h and 4h candles aggregated from them. Aggregation is exact (open of the first, highest
  high, lowest low, close of the last, sum of volumes, in Decimal) and complete candles only: the same
  rule rebuilds Binance's own recorded 1h candles from its 15m ones to the last digit (tested).

`MarketArchive` picks the window that covers the replay time. A ticker is computed only from candles
that had closed at the replay time (no look-ahead) and has exactly the keys, key order and value types of
the real `GET /api/v3/ticker/24hr` answer. Fields the recordings cannot know (order book, trade ids) get
neutral values: bid = ask = last price, quantities 0, ids -1.
"""

from __future__ import annotations

import gzip
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache, partial
from importlib import resources
from typing import Any

from pytest_oxbot.errors import FakeError
from pytest_oxbot.market.models import INTERVAL_SECONDS

__all__ = [
    "SHIPPED_DATASETS",
    "SHIPPED_SPANS",
    "CandleSeries",
    "MarketArchive",
    "MarketData",
    "ReplayRangeError",
    "aggregate",
    "fmt8",
]

Row = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]
_EIGHT = Decimal("0.00000001")
_DAY_MS = 86_400_000

SHIPPED_DATASETS = ("binance-spot-2026", "binance-spot-5m-2021")
"""The recordings in the package, the default first; `MarketData.shipped(name)` loads one."""
SHIPPED_SPANS = {
    "binance-spot-2026": (1_767_783_600_000, 1_769_944_500_000),  # 2026-01-07T11:00Z .. 2026-02-01T11:15Z
    "binance-spot-5m-2021": (1_619_352_000_000, 1_620_907_200_000),  # 2021-04-25T12:00Z .. 2021-05-13T12:00Z
}
"""Each shipped window's first open and last close (ms), so choosing one does not load them all (tested)."""
_AGGREGATED_2021 = ("15m", "1h", "4h")


def interval_ms(interval: str) -> int:
    try:
        return INTERVAL_SECONDS[interval] * 1000
    except KeyError:
        raise FakeError(
            f"unknown kline interval {interval!r} (known: {', '.join(INTERVAL_SECONDS)})"
        ) from None


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
        self.step_ms = interval_ms(interval)
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


def aggregate(series: CandleSeries, interval: str) -> CandleSeries:
    """`series` rolled up to a coarser `interval`, exactly, keeping only complete candles.

    A coarser candle opens on a multiple of its length (UTC, as Binance's do) and is built from all of
    the finer candles it spans: open of the first, highest high, lowest low, close of the last, sum of
    volumes. One that is missing a finer candle (a gap in the recording, or an edge of the window) is
    left out, never filled in.
    """
    step = interval_ms(interval)
    if step <= series.step_ms or step % series.step_ms:
        raise FakeError(f"cannot aggregate {series.interval} candles into {interval}")
    parts_per = step // series.step_ms
    groups: dict[int, list[Row]] = {}
    for row in series.rows:
        groups.setdefault(row[0] - row[0] % step, []).append(row)
    rows = []
    for open_ms, parts in groups.items():
        expected = [open_ms + i * series.step_ms for i in range(parts_per)]
        if [p[0] for p in parts] != expected:
            continue
        rows.append(
            (
                open_ms,
                parts[0][1],
                max(p[2] for p in parts),
                min(p[3] for p in parts),
                parts[-1][4],
                sum((p[5] for p in parts), Decimal(0)),
            )
        )
    return CandleSeries(series.symbol, interval, tuple(rows))


class MarketData:
    """One recording window: candles by exchange symbol (`BTCUSDT`) and interval (`5m`, `1h`, ...)."""

    def __init__(self, series: Mapping[tuple[str, str], CandleSeries], *, name: str = "custom") -> None:
        if not series:
            raise ValueError("MarketData needs at least one candle series")
        self.series = dict(series)
        self.name = name

    def __repr__(self) -> str:
        return f"MarketData({self.name!r}, {len(self.symbols)} symbols, {self.all_intervals()})"

    @classmethod
    def shipped(cls, name: str = SHIPPED_DATASETS[0]) -> MarketData:
        """A real recording shipped in the package (BTC, ETH, SOL, BNB, XRP /USDT); see SHIPPED_DATASETS."""
        if name not in SHIPPED_DATASETS:
            raise FakeError(f"no shipped market data named {name!r} (shipped: {', '.join(SHIPPED_DATASETS)})")
        return _shipped(name)

    @property
    def symbols(self) -> list[str]:
        return sorted({s for s, _ in self.series})

    def intervals(self, symbol: str) -> list[str]:
        return sorted((i for s, i in self.series if s == symbol), key=interval_ms)

    def all_intervals(self) -> list[str]:
        return sorted({i for _, i in self.series}, key=interval_ms)

    @property
    def start_ms(self) -> int:
        return min(s.first_open_ms for s in self.series.values())

    @property
    def end_ms(self) -> int:
        return max(s.end_ms for s in self.series.values())

    def covers_time(self, t_ms: int) -> bool:
        return self.start_ms <= t_ms <= self.end_ms

    def klines(
        self,
        symbol: str,
        interval: str,
        limit: int,
        t_ms: int,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[list[Any]]:
        """Klines opened by `t_ms` in the REST shape; the forming one has only its closed parts.

        As Binance does: with `start_ms` the first `limit` candles opened at or after it, otherwise the
        last `limit`; `end_ms` drops candles opened after it. The forming candle is rebuilt from the finer
        recorded candles that had closed by `t_ms` (or is flat at its open when there are none), so the
        fake never leaks a price from after the replay time.
        """
        series = self.series[(symbol, interval)]
        last = series.opened_by(t_ms if end_ms is None else min(t_ms, end_ms))
        if start_ms is not None:
            first = series.opened_before(start_ms)
            rows = series.rows[first : min(last, first + limit)]
        else:
            rows = series.rows[max(0, last - limit) : last]
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
            if interval_ms(finer) >= interval_ms(interval):
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
            raise ReplayRangeError.for_symbol(symbol, t_ms, candidates)
        covering = [s for s in usable if s.first_open_ms <= t_ms - _DAY_MS]
        return (covering or usable)[0]

    def covers(self, symbol: str, interval: str, t_ms: int) -> bool:
        series = self.series.get((symbol, interval))
        return series is not None and series.opened_by(t_ms) > 0 and t_ms <= series.end_ms

    def tick_size(self, symbol: str) -> Decimal:
        """The finest price step written in the recording (what `PRICE_FILTER.tickSize` would allow)."""
        return _finest_step(
            v for (s, _), series in self.series.items() if s == symbol for r in series.rows for v in r[1:5]
        )

    def step_size(self, symbol: str) -> Decimal:
        """The finest volume step written in the recording (a lower bound of `LOT_SIZE.stepSize`)."""
        return _finest_step(
            r[5] for (s, _), series in self.series.items() if s == symbol for r in series.rows
        )


class MarketArchive:
    """Several recording windows; every question is answered by the window that covers the replay time.

    A window is loaded the first time a replay time falls in it, so a suite that replays 2026 never pays
    for parsing the 2021 recording.
    """

    def __init__(self, windows: Sequence[MarketData]) -> None:
        if not windows:
            raise ValueError("MarketArchive needs at least one MarketData window")
        self._spans = [_Span(w.name, w.start_ms, w.end_ms, lambda w=w: w) for w in windows]  # type: ignore[misc]
        self._check()

    @classmethod
    def _lazy(cls, spans: Sequence[_Span]) -> MarketArchive:
        archive = cls.__new__(cls)
        archive._spans = list(spans)
        archive._check()
        return archive

    def _check(self) -> None:
        self._spans.sort(key=lambda s: s.start_ms)
        for a, b in zip(self._spans, self._spans[1:], strict=False):
            if b.start_ms < a.end_ms:
                raise FakeError(f"market data windows {a.name!r} and {b.name!r} overlap")

    def __repr__(self) -> str:
        return f"MarketArchive({[s.name for s in self._spans]})"

    @classmethod
    def shipped(cls) -> MarketArchive:
        """Every recording shipped in the package."""
        return cls._lazy(
            [_Span(n, *SHIPPED_SPANS[n], partial(MarketData.shipped, n)) for n in SHIPPED_DATASETS]
        )

    @classmethod
    def of(cls, data: MarketData | MarketArchive) -> MarketArchive:
        return data if isinstance(data, MarketArchive) else cls([data])

    @property
    def names(self) -> list[str]:
        return [s.name for s in self._spans]

    def at(self, t_ms: int) -> MarketData:
        """The window that covers `t_ms`, else a `ReplayRangeError` listing what is recorded."""
        for span in self._spans:
            if span.start_ms <= t_ms <= span.end_ms:
                return span.load()
        raise ReplayRangeError.outside(t_ms, self._spans)

    def window(self, name: str) -> MarketData:
        for span in self._spans:
            if span.name == name:
                return span.load()
        raise FakeError(f"no market data window named {name!r} (have: {', '.join(self.names)})")

    def describe(self) -> str:
        return "; ".join(f"{s.name}: {_iso(s.start_ms)} .. {_iso(s.end_ms)}" for s in self._spans)

    # The questions a single MarketData answers, asked of the window at `t_ms`.
    def klines(
        self,
        symbol: str,
        interval: str,
        limit: int,
        t_ms: int,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[list[Any]]:
        return self.at(t_ms).klines(symbol, interval, limit, t_ms, start_ms=start_ms, end_ms=end_ms)

    def ticker(self, symbol: str, t_ms: int) -> dict[str, Any]:
        return self.at(t_ms).ticker(symbol, t_ms)

    def covers(self, symbol: str, interval: str, t_ms: int) -> bool:
        try:
            return self.at(t_ms).covers(symbol, interval, t_ms)
        except ReplayRangeError:
            return False


@dataclass(frozen=True, slots=True)
class _Span:
    name: str
    start_ms: int
    end_ms: int
    load: Callable[[], MarketData]


class ReplayRangeError(FakeError, LookupError):
    """The replay time lies outside the recorded data: say so instead of inventing prices."""

    @classmethod
    def for_symbol(cls, symbol: str, t_ms: int, series: Iterable[CandleSeries]) -> ReplayRangeError:
        spans = ", ".join(f"{s.interval}: {_iso(s.first_open_ms)} .. {_iso(s.end_ms)}" for s in series)
        return cls(f"no recorded {symbol} candles around replay time {_iso(t_ms)} (recorded {spans})")

    @classmethod
    def outside(cls, t_ms: int, windows: Iterable[_Span]) -> ReplayRangeError:
        spans = "; ".join(f"{w.name}: {_iso(w.start_ms)} .. {_iso(w.end_ms)}" for w in windows)
        return cls(f"no recorded candles around replay time {_iso(t_ms)} (recorded {spans})")


def _iso(t_ms: int) -> str:
    return datetime.fromtimestamp(t_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _finest_step(values: Iterable[Decimal]) -> Decimal:
    exponent = min((v.normalize().as_tuple().exponent for v in values), default=0)
    return Decimal(1).scaleb(min(0, int(exponent)))


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


def _rows(raw: list[list[float]]) -> tuple[Row, ...]:
    return tuple((int(r[0]), _dec(r[1]), _dec(r[2]), _dec(r[3]), _dec(r[4]), _dec(r[5])) for r in raw)


def _read_candles(folder: str) -> dict[tuple[str, str], CandleSeries]:
    """`{PAIR}_{QUOTE}-{interval}.json[.gz]` files of one data folder."""
    root = resources.files("pytest_oxbot") / "data" / "market" / folder
    series: dict[tuple[str, str], CandleSeries] = {}
    for entry in root.iterdir():
        name = entry.name
        if name.endswith(".json.gz"):
            text = gzip.decompress(entry.read_bytes()).decode("utf-8")
            stem = name[: -len(".json.gz")]
        elif name.endswith(".json"):
            text = entry.read_text(encoding="utf-8")
            stem = name[: -len(".json")]
        else:
            continue
        pair, interval = stem.rsplit("-", 1)
        symbol = pair.replace("_", "")
        series[(symbol, interval)] = CandleSeries(symbol, interval, _rows(json.loads(text)))
    return series


@cache
def _shipped(name: str) -> MarketData:
    if name == "binance-spot-2026":
        return MarketData(_read_candles("candles"), name=name)
    series = _read_candles("candles-5m-2021")
    for (symbol, _), five in list(series.items()):
        for interval in _AGGREGATED_2021:
            series[(symbol, interval)] = aggregate(five, interval)
    return MarketData(series, name=name)
