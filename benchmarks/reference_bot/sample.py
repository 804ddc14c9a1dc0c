"""The reference five-symbol prompt context, built from the package's real recorded candles.

Market data is real: the fake exchange's shipped Binance recordings, parsed by the market client's own
`Candle`, with indicators from the toolkit's indicator engine, as the bot sees them. The positions and the
account are made up (deterministically, from the candles) because a decision prompt needs some. Open
interest and funding are left out: the recorded spot data has none, and we do not invent them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from pytest_oxbot.fakes.exchange_data import MarketData
from pytest_oxbot.market import Candle
from pytest_oxbot.market.indicators import compute

from .context import AccountView, PromptContext, SymbolView
from .tables import OPEN, Position

SAMPLE_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT")
SAMPLE_TIME_MS = 1_769_299_200_000
"""2026-01-25T00:00:00Z, the fake exchange's default replay start: inside both recordings."""
TICK_SIZES = {"BTC": Decimal("0.01"), "ETH": Decimal("0.01"), "SOL": Decimal("0.01"), "BNB": Decimal("0.01")}
"""Binance spot PRICE_FILTER tick sizes of the */USDT pairs (XRP: 0.0001, the default)."""


def recorded_candles(
    symbol: str, interval: str, *, limit: int = 200, at_ms: int = SAMPLE_TIME_MS
) -> list[Candle]:
    """The last `limit` recorded candles of `symbol` (unified, `BTC/USDT`) closed by `at_ms`, oldest first."""
    exchange = symbol.replace("/", "")
    rows = MarketData.shipped().klines(exchange, interval, limit + 1, at_ms)
    candles = [Candle.from_binance(symbol, interval, row) for row in rows]
    return [c for c in candles if c.is_closed(at_ms / 1000)][-limit:]


def symbol_view(
    symbol: str, *, at_ms: int = SAMPLE_TIME_MS, intraday: str = "15m", context: str = "1h", candles: int = 20
) -> SymbolView:
    """One symbol as the bot would see it at `at_ms` (closed candles only)."""
    short, long_ = (
        recorded_candles(symbol, intraday, at_ms=at_ms),
        recorded_candles(symbol, context, at_ms=at_ms),
    )
    volumes = [float(c.volume) for c in long_[-20:]]
    last = short[-1].close
    day = recorded_candles(symbol, intraday, limit=96, at_ms=at_ms)
    return SymbolView(
        symbol=symbol,
        price=last,
        change_24h_pct=((last - day[0].open) / day[0].open * 100).quantize(Decimal("0.001")),
        volume_24h=sum((c.volume for c in day), Decimal(0)),
        intraday=compute(symbol, intraday, short),
        context=compute(symbol, context, long_),
        context_volume=volumes[-1],
        context_avg_volume=sum(volumes) / len(volumes),
        tick_size=TICK_SIZES.get(symbol.split("/")[0], Decimal("0.0001")),
        candles=tuple(long_[-candles:]),
    )


def _position(view: SymbolView, side: str, qty: str, bars_ago: int, leverage: int, why: str) -> Position:
    entry = view.candles[-bars_ago].close
    atr = Decimal(repr(view.context.atr14))
    risk, reward = (atr * 2).quantize(view.tick_size), (atr * 3).quantize(view.tick_size)
    sign = 1 if side == "long" else -1
    return Position(
        id=uuid.UUID(int=bars_ago),
        bot_id=uuid.UUID(int=0),
        symbol=view.symbol,
        side=side,
        quantity=Decimal(qty),
        leverage=Decimal(leverage),
        entry_price=entry,
        current_price=view.price,
        stop_loss=entry - sign * risk,
        take_profit=entry + sign * reward,
        status=OPEN,
        opened_at=datetime.fromtimestamp(view.candles[-bars_ago].open_time.timestamp(), UTC),
        invalidation=why,
    )


@lru_cache(maxsize=8)
def sample_context(symbols: tuple[str, ...] = SAMPLE_SYMBOLS, candle_count: int = 20) -> PromptContext:
    """The reference five-symbol context at the sample time, with three illustrative open positions."""
    views = tuple(symbol_view(s, candles=candle_count) for s in symbols)
    by = {v.symbol: v for v in views}
    plans: list[tuple[str, str, str, int, int, str]] = [
        ("BTC/USDT", "long", "0.05", 12, 5, "1-hour candle closes below the 50-period EMA."),
        ("ETH/USDT", "short", "1.2", 6, 4, "1-hour candle closes above the 20-period EMA."),
        ("SOL/USDT", "long", "14", 18, 3, "RSI(14) on the 1-hour timeframe falls below 40."),
    ]
    positions = tuple(
        _position(by[s], side, q, ago, lev, why) for s, side, q, ago, lev, why in plans if s in by
    )
    account = AccountView(
        cash=Decimal("10000.00"), positions=positions, prices={v.symbol: v.price for v in views}
    )
    return PromptContext(
        symbols=views,
        account=account,
        now=datetime.fromtimestamp(SAMPLE_TIME_MS / 1000, tz=UTC),
        starting_value=Decimal(10_000),
        minutes_since_start=4320,
        invocations=1440,
        memory=("Last cycle: HOLD on all symbols; BTC long kept, stop unchanged.",),
    )
