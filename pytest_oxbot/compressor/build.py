"""Build `SymbolSnapshot`s and a sample `TradingContext` from candles (the packaged real ones by default).

Indicators come from talipp (maintained, incremental, tested) rather than hand-written formulas.
Series are rounded to 3 decimals, as the real nof1 prompts print them; prices stay as recorded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from talipp.indicators import ATR, EMA, MACD, RSI
from talipp.ohlcv import OHLCV

from pytest_oxbot.compressor.model import (
    Candle,
    Portfolio,
    Position,
    SeriesSet,
    SymbolSnapshot,
    TradingContext,
    Trend,
)

SAMPLE_SYMBOLS = ("BTC", "ETH", "SOL", "BNB", "XRP")
# Binance spot PRICE_FILTER tick sizes of the */USDT pairs.
TICK_SIZES = {
    "BTC": Decimal("0.01"),
    "ETH": Decimal("0.01"),
    "SOL": Decimal("0.01"),
    "BNB": Decimal("0.01"),
    "XRP": Decimal("0.0001"),
}
_3DP = Decimal("0.001")


def load_candles(symbol: str, timeframe: str = "1h", quote: str = "USDT") -> list[Candle]:
    """The packaged real candles of a symbol (`1h` or `15m`), oldest first."""
    ref = (
        resources.files("pytest_oxbot") / "data" / "market" / "candles" / f"{symbol}_{quote}-{timeframe}.json"
    )
    rows = json.loads(ref.read_text(encoding="utf-8"))
    return [Candle(int(r[0]), *(Decimal(repr(float(v))) for v in r[1:6])) for r in rows]


def _d3(value: float | None) -> Decimal:
    return Decimal(repr(value or 0.0)).quantize(_3DP)


def _tail(values: Sequence[float | None], n: int) -> tuple[Decimal, ...]:
    return tuple(_d3(v) for v in list(values)[-n:])


def trend_of(price: Decimal, ema20: Decimal, ema50: Decimal) -> Trend:
    """Up when price > EMA20 > EMA50, down when price < EMA20 < EMA50, sideways otherwise."""
    if price > ema20 > ema50:
        return "uptrend"
    if price < ema20 < ema50:
        return "downtrend"
    return "sideways"


def snapshot_from_candles(
    symbol: str,
    intraday: Sequence[Candle],
    longer: Sequence[Candle],
    *,
    tick_size: Decimal | None = None,
    quote: str = "USDT",
    series_len: int = 10,
    candle_count: int = 20,
    intraday_tf: str = "15m",
    longer_tf: str = "1h",
) -> SymbolSnapshot:
    """A snapshot as of the last candle of each list (needs >= 60 candles of each for EMA50/MACD)."""
    if len(intraday) < 60 or len(longer) < 60:
        raise ValueError("need at least 60 candles per timeframe for EMA50 and MACD to settle")
    closes = [float(c.close) for c in intraday]
    ema20 = EMA(20, input_values=closes)
    macd = MACD(12, 26, 9, input_values=closes)
    rsi7 = RSI(7, input_values=closes)
    rsi14 = RSI(14, input_values=closes)
    l_closes = [float(c.close) for c in longer]
    l_ohlcv = [
        OHLCV(float(c.open), float(c.high), float(c.low), float(c.close), float(c.volume)) for c in longer
    ]
    l_ema20, l_ema50 = EMA(20, input_values=l_closes), EMA(50, input_values=l_closes)
    l_macd, l_rsi14 = MACD(12, 26, 9, input_values=l_closes), RSI(14, input_values=l_closes)
    atr3, atr14 = ATR(3, input_values=l_ohlcv), ATR(14, input_values=l_ohlcv)
    price = intraday[-1].close
    e20, e50 = _d3(l_ema20[-1]), _d3(l_ema50[-1])
    volumes = [c.volume for c in longer[-20:]]
    return SymbolSnapshot(
        symbol=symbol,
        quote=quote,
        tick_size=tick_size or TICK_SIZES.get(symbol, Decimal("0.0001")),
        price=price,
        rsi7=_d3(rsi7[-1]),
        rsi14=_d3(rsi14[-1]),
        ema20=e20,
        ema50=e50,
        macd=_d3(macd[-1].macd if macd[-1] else None),
        atr3=_d3(atr3[-1]),
        atr14=_d3(atr14[-1]),
        trend=trend_of(price, e20, e50),
        volume=longer[-1].volume,
        volume_avg=(sum(volumes, Decimal(0)) / len(volumes)).quantize(_3DP),
        intraday=SeriesSet(
            intraday_tf,
            closes=tuple(c.close for c in intraday[-series_len:]),
            ema20=_tail(list(ema20), series_len),
            macd=_tail([m.macd if m else None for m in macd], series_len),
            rsi7=_tail(list(rsi7), series_len),
            rsi14=_tail(list(rsi14), series_len),
        ),
        longer=SeriesSet(
            longer_tf,
            macd=_tail([m.macd if m else None for m in l_macd], series_len),
            rsi14=_tail(list(l_rsi14), series_len),
        ),
        candles=tuple(longer[-candle_count:]),
    )


def _position(snap: SymbolSnapshot, side: str, qty: str, bars_ago: int, lev: int, why: str) -> Position:
    entry = snap.candles[-bars_ago].close
    risk = (snap.atr14 * 2).quantize(snap.tick_size)
    reward = (snap.atr14 * 3).quantize(snap.tick_size)
    sign = 1 if side == "long" else -1
    quantity = Decimal(qty)
    return Position(
        symbol=snap.symbol,
        side="long" if side == "long" else "short",
        quantity=quantity,
        entry_price=entry,
        current_price=snap.price,
        stop_loss=entry - sign * risk,
        take_profit=entry + sign * reward,
        leverage=lev,
        unrealized_pnl=((snap.price - entry) * sign * quantity).quantize(Decimal("0.01")),
        invalidation=why,
    )


@lru_cache(maxsize=8)
def sample_context(symbols: tuple[str, ...] = SAMPLE_SYMBOLS, candle_count: int = 20) -> TradingContext:
    """The reference 5-symbol context on the packaged real candles, with three illustrative positions.

    Market data is real; the positions and the account are made up (deterministically, from the
    candles) because a decision prompt needs some. Open interest and funding are left out: the
    packaged spot data has none, and we do not invent them.
    """
    snaps = tuple(
        snapshot_from_candles(s, load_candles(s, "15m"), load_candles(s, "1h"), candle_count=candle_count)
        for s in symbols
    )
    by = {s.symbol: s for s in snaps}
    plans = [
        ("BTC", "long", "0.05", 12, 5, "1-hour candle closes below the 50-period EMA."),
        ("ETH", "short", "1.2", 6, 4, "1-hour candle closes above the 20-period EMA."),
        ("SOL", "long", "14", 18, 3, "RSI(14) on the 1-hour timeframe falls below 40."),
    ]
    positions = tuple(_position(by[s], *rest) for s, *rest in plans if s in by)  # type: ignore[arg-type]
    pnl = sum((p.unrealized_pnl for p in positions), Decimal(0))
    now = datetime.fromtimestamp(snaps[0].candles[-1].open_time_ms / 1000 + 3600, tz=UTC)
    return TradingContext(
        symbols=snaps,
        positions=positions,
        portfolio=Portfolio(
            total_value=Decimal("10000.00") + pnl,
            available_cash=Decimal("6120.50"),
            total_return_pct=((pnl / Decimal("10000")) * 100).quantize(Decimal("0.01")),
        ),
        now=now,
        minutes_since_start=4320,
        invocations=1440,
        memory=("Last cycle: HOLD on all symbols; BTC long kept, stop unchanged.",),
    )
