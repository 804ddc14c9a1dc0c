"""Hypothesis strategies for trading prompts of many shapes, with the facts planted in them.

The generated prompts mix the shapes real prompts use (markdown headings, `key = value` and
`key: value` lines, bullets, tables, JSON blocks, numeric series, prose, Python-dict positions), so
the compressor is tested on text it was not written against. Each prompt comes with the facts the
generator planted, for a check that does not rely on the compressor's own parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import strategies as st

SYMBOLS = ["BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "ADA", "AVAX"]
WORDS = [
    "the",
    "market",
    "data",
    "below",
    "shows",
    "recent",
    "momentum",
    "volume",
    "and",
    "signals",
    "for",
    "each",
    "coin",
    "use",
    "it",
    "well",
]
TRENDS = ["uptrend", "downtrend", "sideways", "bullish", "bearish"]


@dataclass
class Planted:
    """Facts a generated prompt states: per symbol (heading, price, rsi, trend) and positions."""

    sections: list[tuple[str, str, str, str, str]] = field(
        default_factory=list
    )  # sym, heading, p, rsi, trend
    positions: list[tuple[str, str, str]] = field(default_factory=list)  # sym, sl, tp


def _num(d: Decimal) -> str:
    return format(d, "f")


prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("150000"), places=4).map(
    lambda d: _num(d.normalize() if d == d.to_integral_value() else d)
)
small = st.decimals(min_value=Decimal("-500"), max_value=Decimal("500"), places=3).map(_num)
rsis = st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=3).map(_num)
funding = st.sampled_from(["1.25e-05", "-6.8904e-06", "0.0001", "-2.30284e-05"])
prose = st.lists(st.sampled_from(WORDS), min_size=3, max_size=14).map(
    lambda ws: " ".join(ws).capitalize() + "."
)


@st.composite
def series_line(draw: st.DrawFn) -> str:
    label = draw(
        st.sampled_from(["Mid prices", "EMA indicators (20‑period)", "MACD indicators", "closes", "ATR"])
    )
    values = draw(st.lists(small, min_size=3, max_size=20))
    sep = draw(st.sampled_from([": ", " = ", ": "]))
    return f"{label}{sep}[{', '.join(values)}]"


@st.composite
def time_table(draw: st.DrawFn) -> str:
    rows = draw(st.lists(st.tuples(prices, prices, prices), min_size=1, max_size=12))
    lines = ["| open | high | close |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


@st.composite
def symbol_section(draw: st.DrawFn, sym: str, planted: Planted) -> str:
    price, rsi, trend = draw(prices), draw(rsis), draw(st.sampled_from(TRENDS))
    heading = draw(
        st.sampled_from([f"### ALL {sym} DATA", f"## {sym}/USDT", f"**{sym} market**", f"{sym}USDT:"])
    )
    style = draw(st.sampled_from(["eq", "colon", "bullets", "json"]))
    if style == "eq":
        facts = [
            f"current_price = {price}, current_macd = {draw(small)}, current_rsi (7 period) = {rsi}, "
            f"trend = {trend}"
        ]
    elif style == "colon":
        facts = [f"Price: {price}", f"RSI: {rsi}", f"Trend: {trend}"]
    elif style == "bullets":
        facts = [f"- price: {price}", f"- rsi_14: {rsi}", f"- trend: {trend}"]
    else:
        obj = {"symbol": sym, "price": "P", "rsi": "R", "trend": trend, "volume": "V"}
        text = json.dumps(obj, indent=draw(st.sampled_from([None, 2])))
        text = text.replace('"P"', price).replace('"R"', rsi).replace('"V"', draw(prices))
        facts = [text]
    extras = draw(
        st.lists(
            st.one_of(
                series_line(),
                time_table(),
                prose,
                st.builds(lambda a, b: f"Open Interest: Latest: {a}  Average: {b}", prices, prices),
                funding.map(lambda f: f"Funding Rate: {f}"),
                st.just("**Intraday series (3‑minute intervals, oldest → latest):**"),
            ),
            max_size=6,
        )
    )
    planted.sections.append((sym, heading, price, rsi, trend))
    order = draw(st.sampled_from(["facts_first", "facts_last"]))
    body = facts + extras if order == "facts_first" else extras + facts
    return "\n\n".join([heading, *body])


@st.composite
def positions_section(draw: st.DrawFn, syms: list[str], planted: Planted) -> str:
    style = draw(st.sampled_from(["dict", "kv", "table"]))
    lines: list[str] = []
    for sym in syms:
        qty, entry, sl, tp = draw(prices), draw(prices), draw(prices), draw(prices)
        planted.positions.append((sym, sl, tp))
        if style == "dict":
            lines.append(
                f"{{'symbol': '{sym}', 'quantity': {qty}, 'entry_price': {entry}, 'exit_plan': "
                f"{{'profit_target': {tp}, 'stop_loss': {sl}, 'invalidation_condition': 'close below EMA'}}, "
                f"'sl_oid': {draw(st.integers(1, 10**12))}, 'wait_for_fill': False}}"
            )
        elif style == "kv":
            lines.append(f"- {sym}: qty={qty} entry={entry} sl={sl} tp={tp} lev={draw(st.integers(1, 20))}")
        else:
            if not lines:
                lines += ["| symbol | qty | entry | stop_loss | take_profit |", "|---|---|---|---|---|"]
            lines.append(f"| {sym} | {qty} | {entry} | {sl} | {tp} |")
    return "### OPEN POSITIONS\n\n" + "\n".join(lines)


@st.composite
def trading_prompts(draw: st.DrawFn) -> tuple[str, Planted]:
    """A random trading prompt and the facts planted in it."""
    planted = Planted()
    syms = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=5, unique=True))
    parts: list[str] = []
    if draw(st.booleans()):
        parts.append(draw(prose) + " " + draw(prose))
    if draw(st.booleans()):
        parts.append("---")
    for sym in syms:
        parts.append(draw(symbol_section(sym, planted)))
        if draw(st.booleans()):
            parts.append("---")
    held = draw(st.lists(st.sampled_from(syms), unique=True, max_size=len(syms)))
    if held:
        parts.append(draw(positions_section(held, planted)))
    if draw(st.booleans()):
        rules = draw(st.lists(prose, min_size=1, max_size=4))
        parts.append("## Rules\n\n" + "\n".join(f"- {r}" for r in rules))
    if draw(st.booleans()):
        parts.append(
            '## Response format\n\n```json\n{"decisions": [{"symbol": "BTC", "signal": "HOLD"}]}\n```'
        )
    return "\n\n".join(parts) + "\n", planted
