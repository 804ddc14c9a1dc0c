"""The decision prompt, in the shape of the real nof1 Alpha Arena prompts shipped in `data/llm/`.

The full prompt is what a naive bot sends; the optimised bot sends the same text through the
compressor. Static instructions come first and the market state after them, so a provider's prompt
cache can reuse the prefix. Numbers are printed once, here; the compressor never rewrites them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pytest_oxbot.llm.decisions import base_asset
from pytest_oxbot.market.indicators import Indicators

TEMPLATE_VERSION = "oxbot-cycle-prompt-v1"

_INSTRUCTIONS = (
    "You are a disciplined crypto trading agent. Below, we are providing you with a variety of state data, "
    "price data, and predictive signals so you can discover alpha. Below that is your current account "
    "information, value, performance and positions.\n\n"
    "**ALL OF THE PRICE OR SIGNAL DATA BELOW IS ORDERED: OLDEST → NEWEST**\n\n"
    "**Timeframes note:** intraday series are at {intraday} intervals; the longer-term context uses "
    "{context} candles.\n\n"
    "For each coin answer one of: hold, buy_to_enter, sell_to_enter, close; with confidence (0..1), "
    "quantity, stop_loss, profit_target and a one-sentence justification. Answer with one JSON object "
    "keyed by coin and nothing else."
)


@dataclass(frozen=True, slots=True)
class SymbolView:
    """One symbol's market state at decision time."""

    symbol: str
    price: Decimal
    change_24h_pct: Decimal
    volume_24h: Decimal
    intraday: Indicators
    context: Indicators
    context_volume: float
    context_avg_volume: float


@dataclass(frozen=True, slots=True)
class PositionView:
    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    current_price: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None

    @property
    def unrealized_pnl(self) -> Decimal:
        sign = 1 if self.side == "long" else -1
        return (self.current_price - self.entry_price) * self.quantity * sign


@dataclass(frozen=True, slots=True)
class TradeView:
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class AccountView:
    cash: Decimal
    positions: Sequence[PositionView]
    recent_trades: Sequence[TradeView]

    @property
    def value(self) -> Decimal:
        return self.cash + sum((p.unrealized_pnl for p in self.positions), Decimal(0))


def num(value: float | Decimal) -> str:
    """A number as a prompt shows it: 3 decimals from 1 up, 6 significant digits below (XRP's ATR)."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text if "." not in text else text.rstrip("0").rstrip(".")
    text = f"{value:.3f}" if abs(value) >= 1 else f"{value:.6g}"
    if "e" in text:
        text = f"{value:.10f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _series(values: Sequence[float]) -> str:
    return "[" + ", ".join(num(v) for v in values) + "]"


def render_symbol(view: SymbolView) -> str:
    coin = base_asset(view.symbol)
    i, c = view.intraday, view.context
    return "\n\n".join(
        [
            f"### ALL {coin} DATA",
            f"current_price = {num(view.price)}, current_ema20 = {num(i.ema20)}, "
            f"current_macd = {num(i.macd)}, current_rsi (14 period) = {num(i.rsi14)}",
            f"24h change: {num(view.change_24h_pct)}%  24h volume: {num(view.volume_24h)}",
            f"**Intraday series ({i.timeframe} intervals, oldest → latest):**",
            f"{coin} mid prices: {_series(i.recent_closes)}",
            f"EMA indicators (20‑period): {_series(i.recent_ema20)}",
            f"MACD indicators: {_series(i.recent_macd)}",
            f"RSI indicators (14‑Period): {_series(i.recent_rsi14)}",
            f"**Longer‑term context ({c.timeframe} timeframe):**",
            f"20‑Period EMA: {num(c.ema20)} vs. 50‑Period EMA: {num(c.ema50)}",
            f"14‑Period ATR: {num(c.atr14)} vs. intraday 14‑Period ATR: {num(i.atr14)}",
            f"Current Volume: {num(view.context_volume)} vs. Average Volume: {num(view.context_avg_volume)}",
            f"MACD indicators: {_series(c.recent_macd)}",
            f"RSI indicators (14‑Period): {_series(c.recent_rsi14)}",
            f"Trend: intraday {i.trend}, {c.timeframe} {c.trend}",
        ]
    )


def render_account(account: AccountView) -> str:
    lines = [
        "### HERE IS YOUR ACCOUNT INFORMATION & PERFORMANCE",
        f"Available Cash: {num(account.cash)}",
        f"**Current Account Value:** {num(account.value)}",
        "Current live positions & performance:",
    ]
    if not account.positions:
        lines.append("(none)")
    for p in account.positions:
        plan = f"'profit_target': {num(p.take_profit) if p.take_profit is not None else None}, " + (
            f"'stop_loss': {num(p.stop_loss) if p.stop_loss is not None else None}"
        )
        lines.append(
            f"{{'symbol': '{base_asset(p.symbol)}', 'side': '{p.side}', 'quantity': {num(p.quantity)}, "
            f"'entry_price': {num(p.entry_price)}, 'current_price': {num(p.current_price)}, "
            f"'unrealized_pnl': {num(p.unrealized_pnl.quantize(Decimal('0.01')))}, 'exit_plan': {{{plan}}}}}"
        )
    if account.recent_trades:
        lines.append("Recent trades (newest first):")
        for t in account.recent_trades:
            when = f"{t.executed_at:%Y-%m-%d %H:%M}"
            lines.append(f"- {when} {t.side} {num(t.quantity)} {base_asset(t.symbol)} @ {num(t.price)}")
    return "\n\n".join(lines)


def render_prompt(
    views: Sequence[SymbolView], account: AccountView, *, now: datetime, intraday: str, context: str
) -> str:
    """The full prompt for `views` (one symbol for a naive call, several for a batched one)."""
    parts = [
        _INSTRUCTIONS.format(intraday=intraday, context=context),
        f"The current time is {now:%Y-%m-%d %H:%M} UTC.",
        "---",
        "### CURRENT MARKET STATE FOR ALL COINS",
    ]
    for view in views:
        parts += [render_symbol(view), "---"]
    parts.append(render_account(account))
    return "\n\n".join(parts)
