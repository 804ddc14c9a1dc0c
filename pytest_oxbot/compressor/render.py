"""Render a `TradingContext` as a prompt: the full "before" prompt and compact renderings.

`render_full` reproduces the style of the real nof1 Alpha Arena prompts (prose, one labelled series
per line, a candle table, a Python-dict position dump) with dynamic data first: that is what a
naive bot sends. The compact renderings put the static text (rules, response format) first so a
provider's prompt cache can reuse the prefix, use tables instead of prose, shorten series and round
every price to the instrument's tick size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from pytest_oxbot.compressor.model import Position, SymbolSnapshot, TradingContext

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


_CANDLE_HEADER = "| open time (UTC) | open | high | low | close | volume |"


def _s(value: Decimal) -> str:
    """A Decimal as plain text, never in exponent notation."""
    return format(value, "f")


def _series(values: Iterable[Decimal]) -> str:
    return "[" + ", ".join(_s(v) for v in values) + "]"


def _ts(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


# --- the full ("before") prompt ----------------------------------------------------------------
def render_full(ctx: TradingContext) -> str:
    """The verbose prompt a naive bot sends (about 8,000 o200k tokens for five symbols)."""
    parts = [
        f"It has been {ctx.minutes_since_start} minutes since you started trading. The current time is "
        f"{ctx.now.strftime('%Y-%m-%d %H:%M:%S')} and you've been invoked {ctx.invocations} times. Below, we "
        "are providing you with a variety of state data, price data, and predictive signals so you can "
        "discover alpha. Below that is your current account information, value, performance, positions, etc.",
        "**ALL OF THE PRICE OR SIGNAL DATA BELOW IS ORDERED: OLDEST → NEWEST**",
        "**Timeframes note:** Unless stated otherwise in a section title, intraday series are provided at "
        "**15‑minute intervals**. If a coin uses a different interval, it is explicitly stated in that "
        "coin’s section.",
        "---",
        "### CURRENT MARKET STATE FOR ALL COINS",
    ]
    for snap in ctx.symbols:
        parts.extend(_full_symbol(snap))
        parts.append("---")
    if ctx.news:
        parts.append("### RECENT NEWS")
        parts.extend(f"- {item}" for item in ctx.news)
    if ctx.memory:
        parts.append("### YOUR NOTES FROM PREVIOUS CYCLES")
        parts.extend(f"- {item}" for item in ctx.memory)
    pf = ctx.portfolio
    parts += [
        "### HERE IS YOUR ACCOUNT INFORMATION & PERFORMANCE",
        f"Current Total Return (percent): {_s(pf.total_return_pct)}%",
        f"Available Cash: {_s(pf.available_cash)}",
        f"**Current Account Value:** {_s(pf.total_value)}",
    ]
    if pf.sharpe is not None:
        parts.append(f"Sharpe Ratio: {_s(pf.sharpe)}")
    parts.append("Current live positions & performance:")
    parts.append(
        "\n".join(_full_position(p) for p in ctx.positions) if ctx.positions else "No open positions."
    )
    parts += ["### TRADING RULES", _RULES_PREAMBLE, *(f"- {rule}" for rule in ctx.rules)]
    pretty = json.dumps(json.loads(ctx.response_format), indent=2)
    parts += ["### RESPONSE FORMAT", _FORMAT_PREAMBLE, f"```json\n{pretty}\n```"]
    return "\n\n".join(parts) + "\n"


def _full_symbol(s: SymbolSnapshot) -> list[str]:
    intra, longer = s.intraday, s.longer
    out = [
        f"### ALL {s.symbol} DATA",
        f"current_price = {_s(s.price)}, current_ema20 = {_s(intra.ema20[-1] if intra.ema20 else s.ema20)}, "
        f"current_macd = {_s(s.macd)}, current_rsi (7 period) = {_s(s.rsi7)}, trend = {s.trend}",
    ]
    if s.open_interest is not None or s.funding_rate is not None:
        out.append(f"In addition, here is the latest {s.symbol} open interest and funding rate for perps:")
        if s.open_interest is not None:
            avg = f"  Average: {_s(s.open_interest_avg)}" if s.open_interest_avg is not None else ""
            out.append(f"Open Interest: Latest: {_s(s.open_interest)}{avg}")
        if s.funding_rate is not None:
            out.append(f"Funding Rate: {_s(s.funding_rate)}")
    tf = intra.timeframe.replace("m", "‑minute").replace("h", "‑hour")
    out += [
        f"**Intraday series ({tf} intervals, oldest → latest):**",
        f"{s.symbol} mid prices: {_series(intra.closes)}",
        f"EMA indicators (20‑period): {_series(intra.ema20)}",
        f"MACD indicators: {_series(intra.macd)}",
        f"RSI indicators (7‑Period): {_series(intra.rsi7)}",
        f"RSI indicators (14‑Period): {_series(intra.rsi14)}",
    ]
    ltf = longer.timeframe.replace("m", "‑minute").replace("h", "‑hour")
    out += [
        f"**Longer‑term context ({ltf} timeframe):**",
        f"20‑Period EMA: {_s(s.ema20)} vs. 50‑Period EMA: {_s(s.ema50)}",
        f"3‑Period ATR: {_s(s.atr3)} vs. 14‑Period ATR: {_s(s.atr14)}",
        f"Current Volume: {_s(s.volume)} vs. Average Volume: {_s(s.volume_avg)}",
        f"MACD indicators: {_series(longer.macd)}",
        f"RSI indicators (14‑Period): {_series(longer.rsi14)}",
    ]
    if s.candles:
        rows = [
            "| "
            + " | ".join([_ts(c.open_time_ms), *(_s(v) for v in (c.open, c.high, c.low, c.close, c.volume))])
            + " |"
            for c in s.candles
        ]
        out += [
            f"**Recent {ltf} candles (oldest → latest):**",
            "\n".join(
                [
                    "| open time (UTC) | open | high | low | close | volume |",
                    "|---|---|---|---|---|---|",
                    *rows,
                ]
            ),
        ]
    return out


def _full_position(p: Position) -> str:
    fields: dict[str, object] = {
        "symbol": p.symbol,
        "side": p.side,
        "quantity": float(p.quantity),
        "entry_price": float(p.entry_price),
        "current_price": float(p.current_price),
        "unrealized_pnl": float(p.unrealized_pnl),
        "leverage": p.leverage,
    }
    if p.liquidation_price is not None:
        fields["liquidation_price"] = float(p.liquidation_price)
    plan = {
        "profit_target": float(p.take_profit),
        "stop_loss": float(p.stop_loss),
        "invalidation_condition": p.invalidation,
    }
    body = ", ".join(f"{k!r}: {v!r}" for k, v in fields.items())
    plan_s = ", ".join(f"{k!r}: {v!r}" for k, v in plan.items())
    return "{" + body + ", 'exit_plan': {" + plan_s + "}}"


# --- compact renderings ------------------------------------------------------------------------
def round_to_tick(value: Decimal, tick: Decimal) -> str:
    """A price rounded (half-even) to a multiple of the instrument's tick size, no trailing zeros."""
    steps = (value / tick).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    text = _s(steps * tick)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _r1(value: Decimal) -> str:
    return _s(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN))


def render_static(ctx: TradingContext) -> str:
    """The part of the prompt that does not change between cycles: rules and response format."""
    rules = "\n".join(f"- {rule}" for rule in ctx.rules)
    return f"Rules:\n{rules}\nRespond with JSON only, one entry per symbol:\n{ctx.response_format}"


def render_compact(ctx: TradingContext, series_len: int = 3, include_candles: int = 0) -> str:
    """Static text first, then one table of indicators, short series, positions and account."""
    parts = [render_static(ctx), f"## Market {ctx.now.strftime('%Y-%m-%d %H:%M')} UTC"]
    has_perp = any(s.funding_rate is not None for s in ctx.symbols)
    head = ["sym", "price", "rsi7", "rsi14", "ema20", "ema50", "macd", "atr14", "trend"]
    if has_perp:
        head += ["funding", "oi"]
    rows = ["|" + "|".join(head) + "|", "|" + "|".join("---" for _ in head) + "|"]
    for s in ctx.symbols:
        t = s.tick_size
        cells = [
            s.symbol,
            round_to_tick(s.price, t),
            _r1(s.rsi7),
            _r1(s.rsi14),
            round_to_tick(s.ema20, t),
            round_to_tick(s.ema50, t),
            round_to_tick(s.macd, t),
            round_to_tick(s.atr14, t),
            s.trend,
        ]
        if has_perp:
            cells += [
                _s(s.funding_rate) if s.funding_rate is not None else "-",
                _s(s.open_interest) if s.open_interest is not None else "-",
            ]
        rows.append("|" + "|".join(cells) + "|")
    parts.append("\n".join(rows))
    if series_len > 0:
        tf = ctx.symbols[0].intraday.timeframe if ctx.symbols else ""
        lines = [f"Last {series_len} {tf} closes / rsi7 (oldest→latest):"]
        for s in ctx.symbols:
            closes = ",".join(round_to_tick(v, s.tick_size) for v in s.intraday.closes[-series_len:])
            rsi = ",".join(_r1(v) for v in s.intraday.rsi7[-series_len:])
            lines.append(f"{s.symbol}: {closes} / {rsi}")
        parts.append("\n".join(lines))
    if include_candles:
        for s in ctx.symbols:
            rows = [f"{s.symbol} {s.longer.timeframe} o/h/l/c/v:"]
            for c in s.candles[-include_candles:]:
                t = s.tick_size
                rows.append(
                    f"{round_to_tick(c.open, t)}/{round_to_tick(c.high, t)}/{round_to_tick(c.low, t)}/"
                    f"{round_to_tick(c.close, t)}/{round_to_tick(c.volume, Decimal('1'))}"
                )
            parts.append("\n".join(rows))
    parts.append(_compact_positions(ctx))
    if ctx.news:
        parts.append("News:\n" + "\n".join(f"- {n}" for n in ctx.news))
    if ctx.memory:
        parts.append("Notes:\n" + "\n".join(f"- {m}" for m in ctx.memory))
    pf = ctx.portfolio
    parts.append(
        f"Account: value={_s(pf.total_value)} cash={_s(pf.available_cash)} return={_s(pf.total_return_pct)}%"
    )
    return "\n".join(parts) + "\n"


def _compact_positions(ctx: TradingContext) -> str:
    if not ctx.positions:
        return "Positions: none"
    tick = {s.symbol: s.tick_size for s in ctx.symbols}
    rows = ["|sym|side|qty|entry|sl|tp|pnl|lev|invalidation|", "|---|---|---|---|---|---|---|---|---|"]
    for p in ctx.positions:
        t = tick.get(p.symbol, Decimal("0.0001"))
        entry, sl, tp = (round_to_tick(v, t) for v in (p.entry_price, p.stop_loss, p.take_profit))
        cells = [
            p.symbol,
            p.side,
            _s(p.quantity),
            entry,
            sl,
            tp,
            _s(p.unrealized_pnl),
            str(p.leverage),
            p.invalidation,
        ]
        rows.append("|" + "|".join(cells) + "|")
    return "Positions:\n" + "\n".join(rows)


def render_minimal(ctx: TradingContext) -> str:
    """The emergency rendering: price, RSI and trend per symbol, open positions, the response format."""
    lines = [f"Respond with JSON only: {ctx.response_format}", "|sym|price|rsi7|trend|", "|---|---|---|---|"]
    lines += [
        f"|{s.symbol}|{round_to_tick(s.price, s.tick_size)}|{_r1(s.rsi7)}|{s.trend}|" for s in ctx.symbols
    ]
    lines.append(_compact_positions(ctx))
    return "\n".join(lines) + "\n"
