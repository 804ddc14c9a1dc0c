# ruff: noqa: E501 (prompt lines are written as a bot writes them; wrapping them would obscure the data)
"""Prompt shapes none of our renderers write: how a new user's bot might lay out its market data.

`BTC: price 89225.34, rsi 55.2` lines, `symbol=SOL price=142.07` dumps, prose with coin names, CSV,
YAML-ish state, a markdown table with a Symbol column, a JSON array of objects, bold coin names with
bare prices, and the monitor demo bot's own lines. Each case records the facts it planted (symbol,
kind, value as written) so the tests check the output with string work, not the compressor's parser.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .corpus import COINS, Market, money, num

NAMES = {sym: name for sym, name, _ in COINS}
ANSWER_FORMS = [
    'Answer with JSON only: {{"{sym}": {{"signal": "buy|sell|hold", "confidence": 0.0}}}}',
    '## Output format\nReturn JSON only, one object per coin:\n```json\n{{"{sym}": {{"signal": "hold", "confidence": 0.5}}}}\n```\nsignal must be one of: buy, sell, hold.',
    'RESPONSE FORMAT\nRespond with valid JSON: {{"decisions": [{{"symbol": "{sym}", "signal": "buy|sell|hold", "confidence": 0.7}}]}}',
]
PREAMBLES = [
    "You are a trading assistant. Decide for each coin.",
    "You are a careful crypto swing trader. Use only the data below.",
    "Act as a risk-aware portfolio manager and decide per symbol.",
]
RULES = [
    "NEVER risk more than 2% of equity on one trade.",
    "Always set a stop loss.",
    "Do not open a position against the 4h trend.",
]


@dataclass
class Foreign:
    """A prompt and the facts it planted: (symbol, price|rsi|side|qty|entry|sl|tp|pnl, value)."""

    shape: str
    prompt: str = ""
    facts: list[tuple[str, str, str]] = field(default_factory=list)
    answer_keys: tuple[str, ...] = ("signal", "confidence")


def _head(rng: random.Random) -> list[str]:
    return [rng.choice(PREAMBLES), ""]


def _tail(rng: random.Random, sym: str) -> list[str]:
    rules = rng.sample(RULES, 2)
    return ["", *rules, "", rng.choice(ANSWER_FORMS).format(sym=sym)]


def _market(rng: random.Random, count: int) -> Market:
    return Market(rng, count)


def entity_lines(seed: int) -> Foreign:
    """`BTC: price 89225.34, rsi 55.2, trend up, volume 1234.5` (and `ETH/USDT - price: ...`)."""
    rng = random.Random(seed)
    m = _market(rng, rng.randint(3, 6))
    case = Foreign("entity lines")
    lines = [*_head(rng), "Market snapshot:"]
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price, rsi = num(float(d["price"])), f"{d['rsi']}"
        trend = rng.choice(["up", "down", "flat"])
        vol = f"{float(d['oi']):.1f}"
        form = rng.randrange(3)
        if form == 0:
            lines.append(f"{sym}: price {price}, rsi {rsi}, trend {trend}, volume {vol}")
        elif form == 1:
            lines.append(f"{sym}/USDT - price: {price} | rsi: {rsi} | vol: {vol} | trend: {trend}")
        else:
            lines.append(f"{sym}: last {price}; RSI(14) {rsi}; 24h vol {vol}; funding {d['funding']}")
        case.facts += [(sym, "price", price), (sym, "rsi", rsi)]
    case.prompt = "\n".join(lines + _tail(rng, m.coins[0][0])) + "\n"
    return case


def demo_lines(seed: int) -> Foreign:
    """The monitor demo bot's lines: `BTC: price X, 24h change Y%, volume Z; last 1h closes a, b, c`."""
    rng = random.Random(seed)
    m = _market(rng, 5)
    case = Foreign("demo bot lines", answer_keys=())
    lines = [
        "## Instructions",
        "Decide for each coin: hold, buy_to_enter, sell_to_enter or close. Keep risk per trade under 2 % of the account; set stop_loss and profit_target for every entry.",
        "",
        "## Market",
    ]
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price = f"{float(d['price']):.8f}"
        closes = ", ".join(f"{float(d['price']) * rng.uniform(0.99, 1.01):.8f}" for _ in range(5))
        lines.append(
            f"{sym}: price {price}, 24h change {d['change']:.3f}%, volume {float(d['oi']):.8f}; last 1h closes {closes}, {price}"
        )
        case.facts.append((sym, "price", price))
    case.prompt = "\n".join(lines)
    return case


def kv_dump(seed: int) -> Foreign:
    """`symbol=SOL price=142.07 rsi=48.3 trend=flat`, one record a line."""
    rng = random.Random(seed)
    m = _market(rng, rng.randint(3, 6))
    case = Foreign("symbol=k=v dump")
    lines = [*_head(rng), "# market"]
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price, rsi = num(float(d["price"])), f"{d['rsi']}"
        pair = rng.choice([sym, f"{sym}USDT", f"{sym}/USDT"])
        lines.append(
            f"symbol={pair} price={price} rsi={rsi} trend={str(d['trend']).lower()} oi={float(d['oi']):.0f} funding={d['funding']}"
        )
        case.facts += [(sym, "price", price), (sym, "rsi", rsi)]
    pos_sym = m.coins[0][0]
    p = m.position(pos_sym, money_style=False)
    lines.append(
        f"position symbol={pos_sym} side={p.side} qty={p.qty} entry={p.entry} sl={p.sl} tp={p.tp} upnl={p.pnl}"
    )
    case.facts += [(pos_sym, k, getattr(p, k)) for k in ("side", "qty", "entry", "sl", "tp")]
    case.prompt = "\n".join(lines + _tail(rng, pos_sym)) + "\n"
    return case


def coin_prose(seed: int) -> Foreign:
    """Prose with coin names: `Bitcoin is trading at 89,225 after a 2.1% rise; Ether sits at $3,012.`"""
    rng = random.Random(seed)
    m = _market(rng, rng.randint(2, 4))
    case = Foreign("coin-name prose")
    sentences = []
    verbs = ["is trading at", "sits at", "trades at", "changes hands at", "is priced at"]
    for sym, name, _ in m.coins:
        d = m.data[sym]
        price = money(float(d["price"])) if rng.random() < 0.5 else num(float(d["price"]), sep=True)
        name = "Ether" if sym == "ETH" and rng.random() < 0.5 else name
        sentences.append(
            f"{name} {rng.choice(verbs)} {price} after a {abs(float(d['change'])):.1f}% {'rise' if float(d['change']) > 0 else 'drop'}"
        )
        case.facts.append((sym, "price", price))
    body = "; ".join(sentences[:2]) + "."
    if len(sentences) > 2:
        body += " Meanwhile " + ", and ".join(sentences[2:]) + "."
    lines = [
        *_head(rng),
        "Overnight the market was calm and liquidity thin, with most desks waiting for the US open.",
        body,
        "Sentiment surveys are mixed and nothing in the news flow changes the picture much.",
    ]
    case.prompt = "\n".join(lines + _tail(rng, m.coins[0][0])) + "\n"
    return case


def csv_rows(seed: int) -> Foreign:
    """A CSV block with a header row."""
    rng = random.Random(seed)
    m = _market(rng, rng.randint(3, 6))
    case = Foreign("CSV")
    lines = [*_head(rng), "Data (CSV):", "symbol,price,rsi,ema20,trend,volume"]
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price, rsi = num(float(d["price"])), f"{d['rsi']}"
        lines.append(
            f"{sym},{price},{rsi},{num(float(d['ema20']))},{str(d['trend']).lower()},{float(d['oi']):.1f}"
        )
        case.facts += [(sym, "price", price), (sym, "rsi", rsi)]
    case.prompt = "\n".join(lines + _tail(rng, m.coins[0][0])) + "\n"
    return case


def yaml_state(seed: int) -> Foreign:
    """YAML-ish nested state: `market:` / `  BTC:` / `    price: 89225.34`, and a position."""
    rng = random.Random(seed)
    m = _market(rng, rng.randint(2, 5))
    case = Foreign("YAML state")
    lines = [*_head(rng), "state:", "  market:"]
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price, rsi = num(float(d["price"])), f"{d['rsi']}"
        lines += [
            f"    {sym}:",
            f"      price: {price}",
            f"      rsi: {rsi}",
            f"      ema20: {num(float(d['ema20']))}",
            f"      funding: {d['funding']}",
        ]
        case.facts += [(sym, "price", price), (sym, "rsi", rsi)]
    pos_sym = m.coins[-1][0]
    p = m.position(pos_sym, money_style=False)
    lines += [
        "  positions:",
        f"    - symbol: {pos_sym}",
        f"      side: {p.side}",
        f"      qty: {p.qty}",
        f"      entry: {p.entry}",
        f"      stop_loss: {p.sl}",
        f"      take_profit: {p.tp}",
    ]
    case.facts += [(pos_sym, k, getattr(p, k)) for k in ("side", "qty", "entry", "sl", "tp")]
    case.prompt = "\n".join(lines + _tail(rng, pos_sym)) + "\n"
    return case


def md_table(seed: int) -> Foreign:
    """A markdown table with a Symbol column (and columns in any order)."""
    rng = random.Random(seed)
    m = _market(rng, rng.randint(3, 6))
    case = Foreign("markdown table")
    cols = ["Symbol", "Last Price", "RSI(14)", "24h %", "Funding", "Trend"]
    lines = [*_head(rng), "## Watchlist", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price, rsi = money(float(d["price"])), f"{d['rsi']}"
        cells = [f"{sym}/USDT", price, rsi, f"{d['change']:+.2f}%", f"{d['funding']}", str(d["trend"])]
        lines.append("| " + " | ".join(cells) + " |")
        case.facts += [(sym, "price", price), (sym, "rsi", rsi)]
    case.prompt = "\n".join(lines + _tail(rng, m.coins[0][0])) + "\n"
    return case


def json_array(seed: int) -> Foreign:
    """A JSON array of objects, one per symbol."""
    rng = random.Random(seed)
    m = _market(rng, rng.randint(2, 5))
    case = Foreign("JSON array")
    items = []
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price, rsi = num(float(d["price"])), f"{d['rsi']}"
        items.append(
            f'{{"symbol": "{sym}USDT", "price": {price}, "rsi": {rsi}, "volume": {float(d["oi"]):.1f}, "funding": {d["funding"]}}}'
        )
        case.facts += [(sym, "price", price), (sym, "rsi", rsi)]
    body = "[\n  " + ",\n  ".join(items) + "\n]"
    json.loads(body)  # the case itself must be valid JSON
    case.prompt = "\n".join([*_head(rng), "Market data:", body, *_tail(rng, m.coins[0][0])]) + "\n"
    return case


def bold_names(seed: int) -> Foreign:
    """`- **Bitcoin (BTC)**: $89,225.34 (+2.10%), RSI 55.2, trend up` bullets."""
    rng = random.Random(seed)
    m = _market(rng, rng.randint(3, 6))
    case = Foreign("bold coin names")
    lines = [*_head(rng), "### Prices"]
    for sym, name, _ in m.coins:
        d = m.data[sym]
        price, rsi = money(float(d["price"])), f"{d['rsi']}"
        lines.append(
            f"- **{name} ({sym})**: {price} ({d['change']:+.2f}%), RSI {rsi}, trend {str(d['trend']).lower()}, OI {float(d['oi']):,.0f}"
        )
        case.facts += [(sym, "price", price), (sym, "rsi", rsi)]
    case.prompt = "\n".join(lines + _tail(rng, m.coins[0][0])) + "\n"
    return case


def bold_prose(seed: int) -> Foreign:
    """`**BTC** price 89225.34 rsi 55.2, funding 0.01 - momentum fading.` (no colon, no table)."""
    rng = random.Random(seed)
    m = _market(rng, rng.randint(2, 5))
    case = Foreign("bold tickers in prose")
    lines = [*_head(rng), "Latest reads:"]
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price, rsi = num(float(d["price"])), f"{d['rsi']}"
        lines.append(
            f"**{sym}** price {price} rsi {rsi}, funding {d['funding']} - momentum {rng.choice(['fading', 'building', 'flat'])}."
        )
        case.facts += [(sym, "price", price), (sym, "rsi", rsi)]
    case.prompt = "\n".join(lines + _tail(rng, m.coins[0][0])) + "\n"
    return case


def json_keyed(seed: int) -> Foreign:
    """A JSON object keyed by symbol: `{"BTC": {"price": 89225.34, "rsi": 55.2}, ...}`."""
    rng = random.Random(seed)
    m = _market(rng, rng.randint(2, 5))
    case = Foreign("JSON keyed by symbol")
    items = []
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price, rsi = num(float(d["price"])), f"{d['rsi']}"
        items.append(f'"{sym}": {{"price": {price}, "rsi": {rsi}, "oi": {float(d["oi"]):.0f}}}')
        case.facts += [(sym, "price", price), (sym, "rsi", rsi)]
    body = "{" + ", ".join(items) + "}"
    json.loads(body)
    case.prompt = "\n".join([*_head(rng), "market =", body, *_tail(rng, m.coins[0][0])]) + "\n"
    return case


def _aligned(header: list[str], rows: list[list[str]], how: str, index_name: str = "") -> list[str]:
    """A table laid out as pandas (`right`, index cells first), tabulate's `plain` (`decimal`: points
    lined up) or an f-string (`left`) lays it out: the compressor reads it by position."""
    index = [r[0] for r in rows] if how == "right" else []
    body = [r[1:] for r in rows] if how == "right" else rows
    widths = [max(len(h), *(len(r[k]) for r in body)) for k, h in enumerate(header)]
    if how == "decimal":
        cells = []
        for r in body:
            row = []
            for k, c in enumerate(r):
                whole = c.split(".")[0] if any(ch.isdigit() for ch in c[:1] + c[1:2]) else c
                lead = max(len(x.split(".")[0]) for x in (rr[k] for rr in body))
                row.append(
                    (" " * (lead - len(whole)) + c).ljust(widths[k]) if whole != c or "." not in c else c
                )
            cells.append(row)
        widths = [max(len(h), *(len(r[k]) for r in cells)) for k, h in enumerate(header)]
        body = cells
    iw = max([len(i) for i in index] + [len(index_name)]) if index else 0
    pad = " " * iw + "  " if index else ""
    if how == "left":
        lines = [" ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
        lines += [" ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
        return lines
    lines = [pad + "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    if index_name:
        lines.append(index_name)
    for k, r in enumerate(body):
        first = index[k].ljust(iw) + "  " if index else ""
        lines.append(first + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    return lines


def aligned_columns(seed: int) -> Foreign:
    """Whitespace-aligned tables as pandas' `print(df.tail())`, tabulate or an f-string prints them:
    per coin recent candles under a caption naming it (oldest or newest first), then the positions."""
    rng = random.Random(seed)
    m = _market(rng, rng.randint(2, 4))
    case = Foreign("aligned columns")
    lines = _head(rng)
    how = ["right", "decimal", "left"][seed % 3]
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price, rsi = float(d["price"]), float(d["rsi"])
        n = rng.randint(3, 6)
        rows = []
        for k in range(n):
            close = price if k == n - 1 else price * rng.uniform(0.98, 1.02)
            r = rsi if k == n - 1 else round(rng.uniform(20, 80), 1)
            stamp = f"2025-11-21 {9 + k:02d}:00:00"
            rows.append(
                [stamp, num(close * 0.999), num(close * 1.004), num(close * 0.995), num(close), f"{r}"]
            )
        newest_first = rng.random() < 0.3
        if newest_first:
            rows.reverse()
        header = ["open", "high", "low", "close", "rsi_14"]
        if how == "right":
            table = _aligned(header, rows, "right", "timestamp")
        else:
            table = _aligned(["timestamp", *header], rows, how)
        lines += [f"{sym}USDT 1h candles ({'newest first' if newest_first else 'oldest first'}):", *table, ""]
        case.facts += [(sym, "price", num(price)), (sym, "rsi", f"{rsi}")]
    pos_sym = m.coins[-1][0]
    p = m.position(pos_sym, money_style=False)
    pos_header = ["symbol", "side", "qty", "entry", "stop_loss", "take_profit"]
    pos_row = [f"{pos_sym}USDT", p.side, p.qty, p.entry, p.sl, p.tp]
    table = (
        _aligned(pos_header, [["0", *pos_row]], "right")
        if how == "right"
        else _aligned(pos_header, [pos_row], how)
    )
    lines += ["Open positions:", *table]
    case.facts += [(pos_sym, k, getattr(p, k)) for k in ("side", "qty", "entry", "sl", "tp")]
    case.prompt = "\n".join(lines + _tail(rng, pos_sym)) + "\n"
    return case


FOREIGN_SHAPES: dict[str, Callable[[int], Foreign]] = {
    "bold tickers in prose": bold_prose,
    "JSON keyed by symbol": json_keyed,
    "entity lines": entity_lines,
    "demo bot lines": demo_lines,
    "symbol=k=v dump": kv_dump,
    "coin-name prose": coin_prose,
    "CSV": csv_rows,
    "YAML state": yaml_state,
    "markdown table": md_table,
    "JSON array": json_array,
    "bold coin names": bold_names,
    "aligned columns": aligned_columns,
}

ISSUE_SAMPLE = """You are a trading assistant. Decide for each coin.
BTC: price 89225.34, rsi 55.2, trend up, volume 1234.5
ETH: price 3012.11, rsi 61.0, trend down, volume 999.1
symbol=SOL price=142.07 rsi=48.3 trend=flat
Bitcoin is trading at 89,225 after a 2.1% rise; Ether sits at $3,012.
Answer with JSON only: {"BTC": {"signal": "buy|sell|hold", "confidence": 0.0}}
"""
ISSUE_FACTS = [
    ("BTC", "price", "89225.34"),
    ("BTC", "rsi", "55.2"),
    ("ETH", "price", "3012.11"),
    ("ETH", "rsi", "61.0"),
    ("SOL", "price", "142.07"),
    ("SOL", "rsi", "48.3"),
    ("BTC", "price", "89,225"),
    ("ETH", "price", "$3,012"),
]


def foreign_corpus(seeds: range = range(3)) -> list[Foreign]:
    return [build(seed) for build in FOREIGN_SHAPES.values() for seed in seeds]
