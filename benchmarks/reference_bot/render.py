"""Every rendering of the reference bot's prompt context, from the one model in `context.py`.

- `render_prompt`: what the bot sends each cycle, in the shape of the real nof1 Alpha Arena prompts shipped
  in `pytest_oxbot/data/llm/` (the naive bot sends it as is, the optimised one through the compressor).
- `render_full`: the verbose five-symbol "before" prompt of a naive bot (~8,000 o200k tokens: prose, every
  series, a candle table, a position dump, rules and the answer format), the compressor's benchmark input.
- `render_static` / `render_compact` / `render_minimal`: hand-written compact renderings, what a developer
  would write instead of using the compressor; the benchmark compares them side by side.
Numbers are printed once, here; the compressor never rewrites them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from pytest_oxbot.llm.decisions import base_asset

from .context import AccountView, PromptContext, SymbolView
from .tables import Position

TEMPLATE_VERSION = "oxbot-cycle-prompt-v1"
COMPACT_TEMPLATE_VERSION = "oxbot-cycle-prompt-v1-compact"
"""The same prompt without its answer paragraph: the LLM client appends the compact answer contract."""

_INSTRUCTIONS = (
    "You are a disciplined crypto trading agent. Below, we are providing you with a variety of state data, "
    "price data, and predictive signals so you can discover alpha. Below that is your current account "
    "information, value, performance and positions.\n\n"
    "**ALL OF THE PRICE OR SIGNAL DATA BELOW IS ORDERED: OLDEST → NEWEST**\n\n"
    "**Timeframes note:** intraday series are at {intraday} intervals; the longer-term context uses "
    "{context} candles."
)
_NOF1_ANSWER = (
    "For each coin answer one of: hold, buy_to_enter, sell_to_enter, close; with confidence (0..1), "
    "quantity, stop_loss, profit_target and a one-sentence justification. Answer with one JSON object "
    "keyed by coin and nothing else."
)


def num(value: float | Decimal) -> str:
    """A number as a prompt shows it: 3 decimals from 1 up, 6 significant digits below (XRP's ATR)."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text if "." not in text else text.rstrip("0").rstrip(".")
    text = f"{value:.3f}" if abs(value) >= 1 else f"{value:.6g}"
    if "e" in text:
        text = f"{value:.10f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _series(values: Iterable[float | Decimal]) -> str:
    return "[" + ", ".join(num(v) for v in values) + "]"


# --- the per-cycle prompt ------------------------------------------------------------------------
def render_symbol(view: SymbolView) -> str:
    coin = view.base
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
        pnl = account.unrealized_pnl(p).quantize(Decimal("0.01"))
        lines.append(
            f"{{'symbol': '{base_asset(p.symbol)}', 'side': '{p.side}', 'quantity': {num(p.quantity)}, "
            f"'entry_price': {num(p.entry_price)}, 'current_price': {num(account.price_of(p))}, "
            f"'unrealized_pnl': {num(pnl)}, 'exit_plan': {{{plan}}}}}"
        )
    if account.recent_trades:
        lines.append("Recent trades (newest first):")
        for t in account.recent_trades:
            when = f"{t.executed_at:%Y-%m-%d %H:%M}"
            lines.append(f"- {when} {t.side} {num(t.quantity)} {base_asset(t.symbol)} @ {num(t.price)}")
    return "\n\n".join(lines)


def render_prompt(
    views: Sequence[SymbolView],
    account: AccountView,
    *,
    now: datetime,
    intraday: str,
    context: str,
    answer_format: bool = True,
) -> str:
    """The cycle's prompt for `views` (one symbol for a per-symbol call, several for a batched one).

    `answer_format=False` leaves out the nof1 answer paragraph, for a client that appends its own
    answer contract (`CostAwareLLMClient.decide(contract=True)`).
    """
    instructions = _INSTRUCTIONS.format(intraday=intraday, context=context)
    if answer_format:
        instructions += "\n\n" + _NOF1_ANSWER
    parts = [
        instructions,
        f"The current time is {now:%Y-%m-%d %H:%M} UTC.",
        "---",
        "### CURRENT MARKET STATE FOR ALL COINS",
    ]
    for view in views:
        parts += [render_symbol(view), "---"]
    parts.append(render_account(account))
    return "\n\n".join(parts)


# --- the long "before" prompt --------------------------------------------------------------------
_RULES_PREAMBLE = (
    "You are an autonomous trading agent managing a crypto portfolio on a spot and perpetuals exchange. "
    "Your goal is to maximise risk-adjusted returns while protecting capital. "
    "Read all of the market data above carefully before deciding, compare the intraday series with the "
    "longer-term context, and check every open position against its exit plan. "
    "Explain your reasoning briefly and then give your decision for every symbol."
)
_FORMAT_PREAMBLE = (
    "Respond with a single JSON object and nothing else. "
    "Give one entry per symbol, in the same order as the market data, using exactly these fields:"
)


def _tf(timeframe: str) -> str:
    return timeframe.replace("m", "‑minute").replace("h", "‑hour")


def render_full(ctx: PromptContext) -> str:
    """The verbose prompt a naive bot sends (about 8,000 o200k tokens for five symbols)."""
    intraday = _tf(ctx.symbols[0].intraday.timeframe) if ctx.symbols else "15‑minute"
    parts = [
        f"It has been {ctx.minutes_since_start} minutes since you started trading. The current time is "
        f"{ctx.now.strftime('%Y-%m-%d %H:%M:%S')} and you've been invoked {ctx.invocations} times. Below, we "
        "are providing you with a variety of state data, price data, and predictive signals so you can "
        "discover alpha. Below that is your current account information, value, performance, positions, etc.",
        "**ALL OF THE PRICE OR SIGNAL DATA BELOW IS ORDERED: OLDEST → NEWEST**",
        "**Timeframes note:** Unless stated otherwise in a section title, intraday series are provided at "
        f"**{intraday} intervals**. If a coin uses a different interval, it is explicitly stated in that "
        "coin’s section.",
        "---",
        "### CURRENT MARKET STATE FOR ALL COINS",
    ]
    for view in ctx.symbols:
        parts.extend(_full_symbol(view))
        parts.append("---")
    if ctx.news:
        parts.append("### RECENT NEWS")
        parts.extend(f"- {item}" for item in ctx.news)
    if ctx.memory:
        parts.append("### YOUR NOTES FROM PREVIOUS CYCLES")
        parts.extend(f"- {item}" for item in ctx.memory)
    account = ctx.account
    parts += [
        "### HERE IS YOUR ACCOUNT INFORMATION & PERFORMANCE",
        f"Current Total Return (percent): {num(ctx.total_return_pct)}%",
        f"Available Cash: {num(account.cash)}",
        f"**Current Account Value:** {num(account.value.quantize(Decimal('0.01')))}",
        "Current live positions & performance:",
        "\n".join(_full_position(p, account) for p in account.positions)
        if account.positions
        else "No open positions.",
        "### TRADING RULES",
        _RULES_PREAMBLE,
        *(f"- {rule}" for rule in ctx.rules),
    ]
    pretty = json.dumps(json.loads(ctx.response_format), indent=2)
    parts += ["### RESPONSE FORMAT", _FORMAT_PREAMBLE, f"```json\n{pretty}\n```"]
    return "\n\n".join(parts) + "\n"


def _full_symbol(v: SymbolView) -> list[str]:
    i, c = v.intraday, v.context
    out = [
        f"### ALL {v.base} DATA",
        f"current_price = {num(v.price)}, current_ema20 = {num(i.ema20)}, current_macd = {num(i.macd)}, "
        f"current_rsi (7 period) = {num(i.rsi7)}, trend = {i.trend}",
        f"**Intraday series ({_tf(i.timeframe)} intervals, oldest → latest):**",
        f"{v.base} mid prices: {_series(i.recent_closes)}",
        f"EMA indicators (20‑period): {_series(i.recent_ema20)}",
        f"MACD indicators: {_series(i.recent_macd)}",
        f"RSI indicators (7‑Period): {_series(i.recent_rsi7)}",
        f"RSI indicators (14‑Period): {_series(i.recent_rsi14)}",
        f"**Longer‑term context ({_tf(c.timeframe)} timeframe):**",
        f"20‑Period EMA: {num(c.ema20)} vs. 50‑Period EMA: {num(c.ema50)}",
        f"3‑Period ATR: {num(c.atr3)} vs. 14‑Period ATR: {num(c.atr14)}",
        f"Current Volume: {num(v.context_volume)} vs. Average Volume: {num(v.context_avg_volume)}",
        f"MACD indicators: {_series(c.recent_macd)}",
        f"RSI indicators (14‑Period): {_series(c.recent_rsi14)}",
    ]
    if v.candles:
        rows = [
            "| "
            + " | ".join(
                [
                    f"{k.open_time:%Y-%m-%d %H:%M}",
                    *(num(x) for x in (k.open, k.high, k.low, k.close, k.volume)),
                ]
            )
            + " |"
            for k in v.candles
        ]
        table = [
            "| open time (UTC) | open | high | low | close | volume |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
        out += [f"**Recent {_tf(c.timeframe)} candles (oldest → latest):**", "\n".join(table)]
    return out


def _full_position(p: Position, account: AccountView) -> str:
    fields: dict[str, object] = {
        "symbol": base_asset(p.symbol),
        "side": p.side,
        "quantity": float(p.quantity),
        "entry_price": float(p.entry_price),
        "current_price": float(account.price_of(p)),
        "unrealized_pnl": float(account.unrealized_pnl(p).quantize(Decimal("0.01"))),
        "leverage": int(p.leverage),
    }
    plan = {
        "profit_target": None if p.take_profit is None else float(p.take_profit),
        "stop_loss": None if p.stop_loss is None else float(p.stop_loss),
        "invalidation_condition": p.invalidation or "",
    }
    body = ", ".join(f"{k!r}: {v!r}" for k, v in fields.items())
    plan_s = ", ".join(f"{k!r}: {v!r}" for k, v in plan.items())
    return "{" + body + ", 'exit_plan': {" + plan_s + "}}"


# --- hand-written compact renderings -------------------------------------------------------------
def round_to_tick(value: Decimal | float, tick: Decimal) -> str:
    """A price rounded (half-even) to a multiple of the instrument's tick size, no trailing zeros."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    steps = (exact / tick).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    text = format(steps * tick, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _r1(value: float) -> str:
    return format(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN), "f")


def render_static(ctx: PromptContext) -> str:
    """The part of the prompt that does not change between cycles: rules and response format."""
    rules = "\n".join(f"- {rule}" for rule in ctx.rules)
    return f"Rules:\n{rules}\nRespond with JSON only, one entry per symbol:\n{ctx.response_format}"


def render_compact(ctx: PromptContext, series_len: int = 3, include_candles: int = 0) -> str:
    """Static text first, then one table of indicators, short series, positions and account."""
    parts = [render_static(ctx), f"## Market {ctx.now.strftime('%Y-%m-%d %H:%M')} UTC"]
    head = ["sym", "price", "rsi7", "rsi14", "ema20", "ema50", "macd", "atr14", "trend"]
    rows = ["|" + "|".join(head) + "|", "|" + "|".join("---" for _ in head) + "|"]
    for v in ctx.symbols:
        t, i, c = v.tick_size, v.intraday, v.context
        cells = [
            v.base,
            round_to_tick(v.price, t),
            _r1(i.rsi7),
            _r1(i.rsi14),
            round_to_tick(c.ema20, t),
            round_to_tick(c.ema50, t),
            round_to_tick(i.macd, t),
            round_to_tick(c.atr14, t),
            i.trend,
        ]
        rows.append("|" + "|".join(cells) + "|")
    parts.append("\n".join(rows))
    if series_len > 0 and ctx.symbols:
        lines = [f"Last {series_len} {ctx.symbols[0].intraday.timeframe} closes / rsi7 (oldest→latest):"]
        for v in ctx.symbols:
            closes = ",".join(round_to_tick(x, v.tick_size) for x in v.intraday.recent_closes[-series_len:])
            rsi = ",".join(_r1(x) for x in v.intraday.recent_rsi7[-series_len:])
            lines.append(f"{v.base}: {closes} / {rsi}")
        parts.append("\n".join(lines))
    if include_candles:
        for v in ctx.symbols:
            t = v.tick_size
            rows = [f"{v.base} {v.context.timeframe} o/h/l/c/v:"]
            rows += [
                "/".join(round_to_tick(x, t) for x in (k.open, k.high, k.low, k.close))
                + "/"
                + round_to_tick(k.volume, Decimal(1))
                for k in v.candles[-include_candles:]
            ]
            parts.append("\n".join(rows))
    parts.append(_compact_positions(ctx))
    if ctx.news:
        parts.append("News:\n" + "\n".join(f"- {n}" for n in ctx.news))
    if ctx.memory:
        parts.append("Notes:\n" + "\n".join(f"- {m}" for m in ctx.memory))
    account = ctx.account
    parts.append(
        f"Account: value={num(account.value.quantize(Decimal('0.01')))} cash={num(account.cash)} "
        f"return={num(ctx.total_return_pct)}%"
    )
    return "\n".join(parts) + "\n"


def _compact_positions(ctx: PromptContext) -> str:
    account = ctx.account
    if not account.positions:
        return "Positions: none"
    tick = {v.symbol: v.tick_size for v in ctx.symbols}
    rows = ["|sym|side|qty|entry|sl|tp|pnl|lev|invalidation|", "|---|---|---|---|---|---|---|---|---|"]
    for p in account.positions:
        t = tick.get(p.symbol, Decimal("0.0001"))
        sl = "-" if p.stop_loss is None else round_to_tick(p.stop_loss, t)
        tp = "-" if p.take_profit is None else round_to_tick(p.take_profit, t)
        cells = [
            base_asset(p.symbol),
            p.side,
            num(p.quantity),
            round_to_tick(p.entry_price, t),
            sl,
            tp,
            num(account.unrealized_pnl(p).quantize(Decimal("0.01"))),
            str(int(p.leverage)),
            p.invalidation or "",
        ]
        rows.append("|" + "|".join(cells) + "|")
    return "Positions:\n" + "\n".join(rows)


def render_minimal(ctx: PromptContext) -> str:
    """The emergency rendering: price, RSI and trend per symbol, open positions, the response format."""
    lines = [f"Respond with JSON only: {ctx.response_format}", "|sym|price|rsi7|trend|", "|---|---|---|---|"]
    lines += [
        f"|{v.base}|{round_to_tick(v.price, v.tick_size)}|{_r1(v.intraday.rsi7)}|{v.intraday.trend}|"
        for v in ctx.symbols
    ]
    lines.append(_compact_positions(ctx))
    return "\n".join(lines) + "\n"
