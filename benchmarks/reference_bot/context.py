"""What a decision prompt is rendered from: one model for every renderer of the reference bot.

A `SymbolView` is one instrument at decision time (the exchange's ticker plus the toolkit's indicators of
two timeframes), an `AccountView` the bot's cash, open positions and recent trades (the table rows
themselves: one position model, the table's), a `PromptContext` one decision's whole input. Prices stay
`Decimal` as the exchange sent them; indicators are floats as the indicator engine computes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from pytest_oxbot.market import Candle
from pytest_oxbot.market.indicators import Indicators

from .tables import Position, Trade


@dataclass(frozen=True, slots=True)
class SymbolView:
    """One symbol's market state at decision time (`symbol` is unified, e.g. `BTC/USDT`)."""

    symbol: str
    price: Decimal
    change_24h_pct: Decimal
    volume_24h: Decimal
    intraday: Indicators
    context: Indicators
    context_volume: float
    context_avg_volume: float
    tick_size: Decimal = Decimal("0.0001")
    candles: tuple[Candle, ...] = ()
    """Recent candles of the context timeframe, oldest first (the long prompt prints a table of them)."""

    @property
    def base(self) -> str:
        return self.symbol.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class AccountView:
    """Cash, open positions and recent trades; `prices` marks the positions to market."""

    cash: Decimal
    positions: Sequence[Position]
    recent_trades: Sequence[Trade] = ()
    prices: Mapping[str, Decimal] = field(default_factory=dict)

    def price_of(self, position: Position) -> Decimal:
        return self.prices.get(position.symbol, position.current_price)

    def unrealized_pnl(self, position: Position) -> Decimal:
        return position.pnl_at(self.price_of(position))

    @property
    def value(self) -> Decimal:
        return self.cash + sum((self.unrealized_pnl(p) for p in self.positions), Decimal(0))


@dataclass(frozen=True, slots=True)
class PromptContext:
    """One decision's full input for the long "before" prompt: market, account, notes, rules, format."""

    symbols: tuple[SymbolView, ...]
    account: AccountView
    now: datetime
    starting_value: Decimal = Decimal(10_000)
    minutes_since_start: int = 0
    invocations: int = 0
    news: tuple[str, ...] = ()
    memory: tuple[str, ...] = ()
    rules: tuple[str, ...] = field(default_factory=lambda: DEFAULT_RULES)
    response_format: str = field(default_factory=lambda: DEFAULT_RESPONSE_FORMAT)

    @property
    def total_return_pct(self) -> Decimal:
        gain = (self.account.value - self.starting_value) / self.starting_value * 100
        return gain.quantize(Decimal("0.01"))

    def snapshot(self, base: str) -> SymbolView:
        for view in self.symbols:
            if view.base == base:
                return view
        raise KeyError(base)


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


def views_by_symbol(views: Sequence[SymbolView]) -> dict[str, SymbolView]:
    return {v.symbol: v for v in views}
