"""Indicators on the real recorded candles, checked against an independent textbook implementation."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, TypeVar

import pytest

from pytest_oxbot.market.indicators import IndicatorEngine, NotEnoughCandles, compute

T = TypeVar("T")


@dataclass(frozen=True)
class Bar:
    high: float
    low: float
    close: float
    close_time: datetime


def real_bars(symbol: str, timeframe: str) -> list[Bar]:
    path = resources.files("pytest_oxbot") / "data" / "market" / "candles" / f"{symbol}_USDT-{timeframe}.json"
    step = {"15m": 900_000, "1h": 3_600_000}[timeframe]
    return [
        Bar(r[2], r[3], r[4], datetime.fromtimestamp((r[0] + step - 1) / 1000, UTC))
        for r in json.loads(path.read_text("utf-8"))
    ]


# --- the textbook definitions, written out by hand --------------------------------------------------
def ema(values: list[float], period: int) -> list[float]:
    """EMA seeded with the SMA of the first `period` values, alpha = 2 / (period + 1)."""
    alpha = 2 / (period + 1)
    out = [sum(values[:period]) / period]
    for v in values[period:]:
        out.append(alpha * v + (1 - alpha) * out[-1])
    return out


def wilder_rsi(closes: list[float], period: int = 14) -> float:
    changes = [b - a for a, b in itertools.pairwise(closes)]
    gain = sum(max(c, 0) for c in changes[:period]) / period
    loss = sum(max(-c, 0) for c in changes[:period]) / period
    for c in changes[period:]:
        gain = (gain * (period - 1) + max(c, 0)) / period
        loss = (loss * (period - 1) + max(-c, 0)) / period
    return 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)


def wilder_atr(bars: list[Bar], period: int = 14) -> float:
    tr = [bars[0].high - bars[0].low] + [
        max(b.high - b.low, abs(b.high - p.close), abs(b.low - p.close)) for p, b in itertools.pairwise(bars)
    ]
    atr = sum(tr[:period]) / period
    for t in tr[period:]:
        atr = (atr * (period - 1) + t) / period
    return atr


def macd(closes: list[float]) -> tuple[float, float]:
    fast, slow = ema(closes, 12), ema(closes, 26)
    line = [f - s for f, s in zip(fast[26 - 12 :], slow, strict=True)]
    return line[-1], ema(line, 9)[-1]


@pytest.mark.parametrize(("symbol", "timeframe"), [("BTC", "1h"), ("XRP", "15m"), ("SOL", "15m")])
def test_matches_textbook_formulas_on_real_candles(symbol: str, timeframe: str) -> None:
    bars = real_bars(symbol, timeframe)
    got = compute(f"{symbol}/USDT", timeframe, bars, window=len(bars))
    closes = [b.close for b in bars]
    # talipp seeds RSI with 13 changes instead of 14; after hundreds of candles that seed weighs < 1e-12.
    assert got.rsi14 == pytest.approx(wilder_rsi(closes), rel=1e-9)
    assert got.ema20 == pytest.approx(ema(closes, 20)[-1], rel=1e-12)
    assert got.ema50 == pytest.approx(ema(closes, 50)[-1], rel=1e-12)
    line, signal = macd(closes)
    assert got.macd == pytest.approx(line, rel=1e-9)
    assert got.macd_signal == pytest.approx(signal, rel=1e-9)
    assert got.macd_histogram == pytest.approx(line - signal, rel=1e-9, abs=1e-12)
    assert got.atr14 == pytest.approx(wilder_atr(bars), rel=1e-9)
    assert got.close == closes[-1]
    assert got.close_time == bars[-1].close_time
    assert 0 < got.rsi14 < 100
    assert got.recent_closes == tuple(closes[-10:])
    assert got.recent_ema20[-1] == got.ema20
    assert len(got.recent_ema20) == len(got.recent_macd) == len(got.recent_rsi14) == 10
    assert got.recent_ema20[-2] == pytest.approx(ema(closes[:-1], 20)[-1], rel=1e-12)
    assert got.recent_rsi14[0] == pytest.approx(wilder_rsi(closes[:-9]), rel=1e-9)


def test_default_window_stays_close_to_the_full_history() -> None:
    bars = real_bars("ETH", "15m")
    full = compute("ETH/USDT", "15m", bars, window=len(bars))
    windowed = compute("ETH/USDT", "15m", bars)
    assert windowed.ema20 == pytest.approx(full.ema20, rel=1e-9)
    assert windowed.ema50 == pytest.approx(full.ema50, rel=1e-4)
    assert windowed.rsi14 == pytest.approx(full.rsi14, rel=1e-4)
    assert windowed.atr14 == pytest.approx(full.atr14, rel=1e-4)


def test_hand_computed_small_series() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # Each bar closes at its high; the next opens there: every true range is exactly 1.
    rising = [Bar(i + 1.0, float(i), i + 1.0, start + timedelta(hours=i)) for i in range(60)]
    got = compute("X/USDT", "1h", rising)
    assert got.rsi14 == 100.0  # no losses at all
    assert got.trend == "up"
    assert got.ema20 == pytest.approx(50.5)  # an SMA-seeded EMA of a line lags it by (20 - 1) / 2 exactly
    assert got.atr14 == pytest.approx(1.0)  # every true range is high - low = 1
    falling = [Bar(61.0 - i, 60.0 - i, 60.0 - i, start + timedelta(hours=i)) for i in range(60)]
    down = compute("X/USDT", "1h", falling)
    assert down.trend == "down"
    assert down.rsi14 == pytest.approx(0.0)


def test_too_few_candles_is_an_error_not_a_guess() -> None:
    with pytest.raises(NotEnoughCandles, match="need >= 50"):
        compute("BTC/USDT", "1h", real_bars("BTC", "1h")[:49])


class CountingCache:
    """A minimal AsyncCache that records what the engine asks of it."""

    def __init__(self) -> None:
        self.store: dict[str, Any] = {}
        self.ttls: list[float | None] = []

    async def get(self, key: str, default: Any = None) -> Any:
        return self.store.get(key, default)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.store[key] = value

    async def delete(self, key: str) -> None:
        self.store.pop(key, None)

    async def get_or_compute(
        self, key: str, loader: Callable[[], Awaitable[T]], ttl: float | None = None
    ) -> T:
        self.ttls.append(ttl)
        if key not in self.store:
            self.store[key] = await loader()
        result: T = self.store[key]
        return result


@pytest.mark.parametrize("shared", [False, True], ids=["local-lru", "async-cache"])
async def test_cached_per_symbol_timeframe_and_last_close(shared: bool) -> None:
    cache = CountingCache() if shared else None
    engine = IndicatorEngine(cache, ttl=900)
    bars = real_bars("BNB", "15m")
    first = await engine.indicators("BNB/USDT", "15m", bars[:300])
    again = await engine.indicators("BNB/USDT", "15m", bars[:300])
    assert again == first
    assert (engine.computed, engine.reused) == (1, 1)
    nxt = await engine.indicators("BNB/USDT", "15m", bars[:301])  # a new candle closed: a new key
    assert nxt.close_time > first.close_time
    await engine.indicators("BNB/USDT", "1h", bars[:300])  # same candles, other timeframe: other key
    await engine.indicators("SOL/USDT", "15m", bars[:300])  # other symbol: other key
    assert (engine.computed, engine.reused) == (4, 1)
    if cache is not None:
        assert len(cache.store) == 4
        assert set(cache.ttls) == {900}


async def test_local_lru_is_bounded() -> None:
    engine = IndicatorEngine(max_entries=3)
    bars = real_bars("XRP", "15m")
    for end in range(100, 106):
        await engine.indicators("XRP/USDT", "15m", bars[:end])
    await engine.indicators("XRP/USDT", "15m", bars[:100])  # evicted long ago: computed again
    assert engine.computed == 7
    await engine.indicators("XRP/USDT", "15m", bars[:105])
    assert engine.reused == 1


def test_without_talipp_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from pytest_oxbot.errors import MissingExtraError
    from pytest_oxbot.market.indicators import compute

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "talipp" else real(name, *a)
    )
    with pytest.raises(MissingExtraError, match=r"pip install 'pytest-oxbot\[indicators\]'"):
        compute("BTC/USDT", "1h", [])
