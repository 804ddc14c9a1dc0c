"""The structured trading context a decision prompt is rendered from.

Numbers are `Decimal` so a renderer prints exactly what the exchange sent (prices arrive as strings)
and rounding to an instrument's tick size is exact. Frozen dataclasses: a context is a snapshot, it
can be cached, compared and hashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

Trend = Literal["uptrend", "downtrend", "sideways"]
Side = Literal["long", "short"]


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar; `open_time_ms` is the bar's open in epoch milliseconds (UTC)."""

    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True, slots=True)
class SeriesSet:
    """Indicator series of one timeframe, oldest first (all the same length)."""

    timeframe: str
    closes: tuple[Decimal, ...] = ()
    ema20: tuple[Decimal, ...] = ()
    macd: tuple[Decimal, ...] = ()
    rsi7: tuple[Decimal, ...] = ()
    rsi14: tuple[Decimal, ...] = ()


@dataclass(frozen=True, slots=True)
class SymbolSnapshot:
    """Everything the prompt says about one instrument at one instant."""

    symbol: str  # base asset, e.g. "BTC"
    quote: str
    tick_size: Decimal
    price: Decimal
    rsi7: Decimal
    rsi14: Decimal
    ema20: Decimal
    ema50: Decimal
    macd: Decimal
    atr3: Decimal
    atr14: Decimal
    trend: Trend
    volume: Decimal
    volume_avg: Decimal
    intraday: SeriesSet
    longer: SeriesSet
    candles: tuple[Candle, ...] = ()  # recent bars of the longer timeframe, oldest first
    open_interest: Decimal | None = None
    open_interest_avg: Decimal | None = None
    funding_rate: Decimal | None = None

    @property
    def pair(self) -> str:
        return f"{self.symbol}/{self.quote}"


@dataclass(frozen=True, slots=True)
class Position:
    """An open position with its exit plan."""

    symbol: str
    side: Side
    quantity: Decimal
    entry_price: Decimal
    current_price: Decimal
    stop_loss: Decimal
    take_profit: Decimal
    leverage: int
    unrealized_pnl: Decimal
    liquidation_price: Decimal | None = None
    invalidation: str = ""


@dataclass(frozen=True, slots=True)
class Portfolio:
    """Account figures the model sizes positions with."""

    total_value: Decimal
    available_cash: Decimal
    total_return_pct: Decimal
    sharpe: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TradingContext:
    """One decision's full input: market, positions, account, optional news and memory, rules."""

    symbols: tuple[SymbolSnapshot, ...]
    positions: tuple[Position, ...]
    portfolio: Portfolio
    now: datetime
    minutes_since_start: int = 0
    invocations: int = 0
    news: tuple[str, ...] = ()
    memory: tuple[str, ...] = ()
    rules: tuple[str, ...] = field(default_factory=lambda: DEFAULT_RULES)
    response_format: str = field(default_factory=lambda: DEFAULT_RESPONSE_FORMAT)

    def snapshot(self, symbol: str) -> SymbolSnapshot:
        for snap in self.symbols:
            if snap.symbol == symbol:
                return snap
        raise KeyError(symbol)


DEFAULT_RULES: tuple[str, ...] = (
    "Trade only the listed symbols; every decision is one of BUY, SELL, HOLD or CLOSE.",
    "Never risk more than 2% of the account value on a single position.",
    "Every new position needs a stop-loss and a take-profit before it is opened.",
    "Keep the reward-to-risk ratio at or above 1.5 for every new position.",
    "Leverage stays between 1 and 10; lower it when ATR is high relative to price.",
    "Do not open a position against the 4-hour trend unless RSI(7) is beyond 80 or below 20.",
    "Do not add to a losing position; close it when its invalidation condition is met.",
    "Move a stop-loss only in the direction of the trade, never away from it.",
    "Keep at least 20% of the account value in available cash.",
    "When funding is strongly positive, prefer HOLD over opening new longs.",
    "If the data for a symbol is missing or stale, answer HOLD for that symbol.",
    "Confidence is a number between 0 and 1; below 0.6, answer HOLD.",
)

DEFAULT_RESPONSE_FORMAT = (
    '{"decisions": [{"symbol": "BTC", "signal": "BUY|SELL|HOLD|CLOSE", "quantity": 0.0, '
    '"leverage": 1, "stop_loss": 0.0, "take_profit": 0.0, "confidence": 0.0, '
    '"invalidation_condition": "text", "justification": "one sentence"}]}'
)
