"""Technical indicators for a prompt (RSI 7/14, EMA 20/50, MACD 12/26/9, ATR 3/14, trend), cached per candle.

The arithmetic is talipp's: a maintained, pure-Python library (no TA-Lib C build to install), with the
standard textbook formulas (Wilder smoothing for RSI and ATR, SMA-seeded EMAs) and typed results. It is an
optional dependency (`pip install 'pytest-oxbot[indicators]'`): only this module needs it.
Indicators only change when a candle closes, so results are cached under (symbol, timeframe, close time
of the last candle): every decision cycle inside one candle reuses them, and a new candle can never be
served a stale value because it has a new key.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal, Protocol

from pytest_oxbot.cache.protocol import AsyncCache
from pytest_oxbot.errors import MarketDataError, require

__all__ = [
    "MIN_CANDLES",
    "TAIL",
    "CandleLike",
    "IndicatorEngine",
    "Indicators",
    "NotEnoughCandles",
    "compute",
]

MIN_CANDLES: Final = 50
"""EMA 50 is the longest look-back: fewer candles cannot give every indicator a value."""

TAIL: Final = 10
"""Values kept per series for a prompt's "oldest -> latest" lists (nof1 shows the last 10)."""

DEFAULT_WINDOW: Final = 200
"""Candles used per computation: 4x the longest period, so the SMA seed of EMA 50 weighs < 0.3 %."""

Trend = Literal["up", "down", "sideways"]


class CandleLike(Protocol):
    """What a candle must offer (`pytest_oxbot.market.models.Candle` does)."""

    @property
    def high(self) -> Decimal | float: ...
    @property
    def low(self) -> Decimal | float: ...
    @property
    def close(self) -> Decimal | float: ...
    @property
    def close_time(self) -> datetime: ...


class NotEnoughCandles(MarketDataError, ValueError):
    """Fewer candles than the longest indicator period."""


@dataclass(frozen=True, slots=True)
class Indicators:
    """The indicator values at the close of the last candle."""

    symbol: str
    timeframe: str
    close_time: datetime
    close: float
    rsi7: float
    rsi14: float
    ema20: float
    ema50: float
    macd: float
    macd_signal: float
    macd_histogram: float
    atr3: float
    atr14: float
    trend: Trend
    recent_closes: tuple[float, ...] = ()
    recent_ema20: tuple[float, ...] = ()
    recent_macd: tuple[float, ...] = ()
    recent_rsi7: tuple[float, ...] = ()
    recent_rsi14: tuple[float, ...] = ()


def _trend(close: float, ema20: float, ema50: float) -> Trend:
    """Up when price > EMA20 > EMA50 (the short average leads), down when reversed, else sideways."""
    if close > ema20 > ema50:
        return "up"
    if close < ema20 < ema50:
        return "down"
    return "sideways"


def compute(
    symbol: str, timeframe: str, candles: Sequence[CandleLike], *, window: int = DEFAULT_WINDOW
) -> Indicators:
    """Indicators at the last candle of `candles` (oldest first), from its last `window` candles."""
    require("talipp", feature="technical indicators", extra="indicators")
    from talipp.indicators import ATR, EMA, MACD, RSI
    from talipp.ohlcv import OHLCV

    if len(candles) < MIN_CANDLES:
        raise NotEnoughCandles(f"{symbol} {timeframe}: {len(candles)} candles, need >= {MIN_CANDLES}")
    recent = candles[-max(window, MIN_CANDLES) :]
    closes = [float(c.close) for c in recent]
    bars = [OHLCV(None, float(c.high), float(c.low), float(c.close), None) for c in recent]
    macd_values = list(MACD(12, 26, 9, closes))
    rsi_values, ema20_values = list(RSI(14, closes)), list(EMA(20, closes))
    rsi7_values = list(RSI(7, closes))
    ema50, atr, macd = EMA(50, closes)[-1], ATR(14, bars)[-1], macd_values[-1]
    atr3 = ATR(3, bars)[-1]
    rsi, ema20, rsi7 = rsi_values[-1], ema20_values[-1], rsi7_values[-1]
    if macd is None or macd.signal is None or None in (rsi, rsi7, ema20, ema50, atr, atr3):
        raise NotEnoughCandles(f"{symbol} {timeframe}: indicators undefined on {len(recent)} candles")
    return Indicators(
        symbol=symbol,
        timeframe=timeframe,
        close_time=recent[-1].close_time,
        close=closes[-1],
        rsi7=float(rsi7),
        rsi14=float(rsi),
        ema20=float(ema20),
        ema50=float(ema50),
        macd=float(macd.macd),
        macd_signal=float(macd.signal),
        macd_histogram=float(macd.histogram),
        atr3=float(atr3),
        atr14=float(atr),
        trend=_trend(closes[-1], float(ema20), float(ema50)),
        recent_closes=tuple(closes[-TAIL:]),
        recent_ema20=_tail(ema20_values),
        recent_macd=_tail([None if m is None else m.macd for m in macd_values]),
        recent_rsi7=_tail(rsi7_values),
        recent_rsi14=_tail(rsi_values),
    )


def _tail(values: Sequence[float | None]) -> tuple[float, ...]:
    return tuple(float(v) for v in values[-TAIL:] if v is not None)


class IndicatorEngine:
    """`compute` behind a cache keyed by symbol, timeframe and the last candle's close time.

    With an `AsyncCache` (e.g. the HierarchicalCache) results are shared across processes; without one a
    small in-process LRU is used. `computed` and `reused` count what the cache saved.
    """

    def __init__(
        self,
        cache: AsyncCache | None = None,
        *,
        ttl: float | None = 3600.0,
        window: int = DEFAULT_WINDOW,
        max_entries: int = 256,
        namespace: str = "oxbot:ind:v1",
    ) -> None:
        self._cache = cache
        self._ttl = ttl
        self._window = window
        self._max_entries = max_entries
        self._namespace = namespace
        self._local: OrderedDict[str, Indicators] = OrderedDict()
        self.computed = 0
        self.reused = 0

    def key(self, symbol: str, timeframe: str, candles: Sequence[CandleLike]) -> str:
        close_ms = int(candles[-1].close_time.timestamp() * 1000)
        return f"{self._namespace}:{symbol}:{timeframe}:{close_ms}"

    async def indicators(self, symbol: str, timeframe: str, candles: Sequence[CandleLike]) -> Indicators:
        """The indicators at `candles[-1]`, computed at most once per closed candle."""
        if not candles:
            raise NotEnoughCandles(f"{symbol} {timeframe}: no candles")
        key = self.key(symbol, timeframe, candles)
        computed_now = False

        async def load() -> Indicators:
            nonlocal computed_now
            computed_now = True
            self.computed += 1
            return compute(symbol, timeframe, candles, window=self._window)

        if self._cache is not None:
            result = await self._cache.get_or_compute(key, load, ttl=self._ttl)
        else:
            found = self._local.get(key)
            if found is None:
                found = await load()
                self._local[key] = found
                if len(self._local) > self._max_entries:
                    self._local.popitem(last=False)
            else:
                self._local.move_to_end(key)
            result = found
        if not computed_now:
            self.reused += 1
        return result
