# ruff: noqa: E501 (prompt lines are written as a bot writes them; wrapping them would obscure the data)
"""A corpus of trading prompts in five shapes other bots use, written to break the compressor.

Each builder writes one prompt from a seeded random generator, in the style of a real bot's prompt
builder (none of it is copied): a markdown dashboard with bold labels, emoji, FVG blocks and markdown
position blocks; a plain-text `key=value` dump with `====` headings, source tags and `Symbol: X | Side: Y`
positions; a prose report with per-entity `Label [SOURCE]: prose` lines, ranges and Python-dict positions;
a JSON state document; and a set of markdown tables. Every prompt has an answer-format section and
instruction lines, and numbers written with separators, currency, signs, percent, ranges and ratios.

Each case comes with what it planted (market facts, positions, instructions, the answer contract), so
the tests can check the compressor's output with plain string work, independent of its parser.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

COINS = [
    ("BTC", "Bitcoin", 89244.47),
    ("ETH", "Ethereum", 3052.18),
    ("SOL", "Solana", 142.655),
    ("BNB", "BNB", 912.4),
    ("XRP", "XRP", 2.1843),
    ("DOGE", "Dogecoin", 0.16215),
    ("ADA", "Cardano", 0.4571),
    ("AVAX", "Avalanche", 14.312),
]


@dataclass
class Position:
    symbol: str
    side: str
    qty: str
    entry: str
    sl: str
    tp: str
    pnl: str | None = None


@dataclass
class Case:
    """A prompt and what it planted (every value exactly as written in the prompt)."""

    shape: str
    prompt: str = ""
    market: list[tuple[str, str, str]] = field(default_factory=list)  # (symbol, price|rsi|trend, value)
    positions: list[Position] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)  # whole lines, as written
    format_lines: list[str] = field(default_factory=list)  # the answer-format section, as written
    answer_keys: list[str] = field(default_factory=list)
    allowed_values: list[str] = field(default_factory=list)
    dont_copy: list[str] = field(default_factory=list)
    example_numbers: list[str] = field(default_factory=list)  # numbers only the example holds
    order: list[str] = field(default_factory=list)  # headings, in the order the prompt gives them
    traps: list[str] = field(default_factory=list)  # lines that must survive standard and analysis


def _decimals(price: float) -> int:
    return 2 if price >= 10 else 4 if price >= 0.5 else 5


def money(x: float, places: int | None = None, sign: bool = False) -> str:
    p = _decimals(abs(x)) if places is None else places
    body = f"{abs(x):,.{p}f}"
    s = "-" if x < 0 else ("+" if sign else "")
    return f"${s}{body}"


def num(x: float, places: int | None = None, sep: bool = False) -> str:
    p = _decimals(abs(x)) if places is None else places
    return f"{x:,.{p}f}" if sep else f"{x:.{p}f}"


def pct(x: float, places: int = 2, sign: bool = True) -> str:
    return f"{x:+.{places}f}%" if sign else f"{x:.{places}f}%"


class Market:
    """Random but coherent figures for a set of coins."""

    def __init__(self, rng: random.Random, count: int) -> None:
        self.rng = rng
        self.coins = rng.sample(COINS, count)
        self.data: dict[str, dict[str, float | str]] = {}
        for sym, _, base in self.coins:
            price = base * rng.uniform(0.9, 1.1)
            self.data[sym] = {
                "price": price,
                "rsi": round(rng.uniform(18, 84), 1),
                "ema20": price * rng.uniform(0.97, 1.02),
                "ema50": price * rng.uniform(0.94, 1.03),
                "funding": rng.choice([0.01, -0.0042, 0.0125, 0.0031, -0.0107]),
                "oi": rng.uniform(1e4, 9e5),
                "vol": rng.uniform(0.4, 2.6),
                "change": rng.uniform(-6, 6),
                "trend": rng.choice(["BULLISH", "BEARISH", "NEUTRAL"]),
                "atr": price * rng.uniform(0.004, 0.02),
            }

    def position(self, sym: str, money_style: bool = True) -> Position:
        d = self.data[sym]
        price = float(d["price"])
        side = self.rng.choice(["LONG", "SHORT"])
        entry = price * self.rng.uniform(0.97, 1.03)
        qty = round(self.rng.uniform(0.01, 3) * (1 if price > 1000 else 1000 / price), 4)
        k = 1 if side == "LONG" else -1
        sl, tp = entry * (1 - k * 0.035), entry * (1 + k * 0.07)
        pnl = (price - entry) * qty * k
        if money_style:
            return Position(
                sym, side, f"{qty:.4f}", money(entry), money(sl), money(tp), money(pnl, 2, sign=True)
            )
        return Position(sym, side.lower(), f"{qty:g}", num(entry), num(sl), num(tp), num(pnl, 2))


# --- shape 1: markdown dashboard --------------------------------------------------------------------
def markdown_dashboard(seed: int) -> Case:
    rng = random.Random(seed)
    m = Market(rng, rng.randint(3, 5))
    case = Case("markdown dashboard")
    held = rng.sample([s for s, _, _ in m.coins], rng.randint(1, 2))
    out = [
        "# MARKET BRIEFING",
        f"Cycle {rng.randint(1000, 9999):,} generated at 2025-11-21 14:{rng.randint(10, 59)} UTC.",
        "",
        "## 0. SENTIMENT",
        f"- **Fear & Greed**: {rng.randint(15, 85)} 😨",
        f"- **BTC Dominance**: {rng.uniform(50, 60):.1f}%",
        "",
        "## 1. RAW DATA DASHBOARD",
        "",
    ]
    case.order += ["## 1. RAW DATA DASHBOARD"]
    for sym, name, _ in m.coins:
        d = m.data[sym]
        price = float(d["price"])
        low, high = price * 0.985, price * 1.012
        p, rsi = money(price), f"{d['rsi']:.1f}"
        out += [
            f"### {name} ({sym}/USDT)",
            f"- **Price**: {p} (4H Range: {money(low)} - {money(high)})",
            f"- **Net Funding**: {float(d['funding']):+.4f}% / 8h",
            f"- **Open Interest**: {float(d['oi']):,.0f}",
            f"- **RSI(14)**: {rsi} | **EMA20**: {money(float(d['ema20']))} | **EMA50**: {money(float(d['ema50']))}",
            f"- **Trend**: {d['trend']}",
            f"- **Vol Ratio**: {float(d['vol']):.2f}x average",
            "",
        ]
        case.market += [(sym, "price", p), (sym, "rsi", rsi), (sym, "trend", str(d["trend"]))]
    out += ["## 2. NEWS FLOW", ""]
    sources = ["COINDESK", "THEBLOCK", "DECRYPT"]
    for _ in range(rng.randint(3, 6)):
        sym = rng.choice(m.coins)[0]
        out.append(
            f"- [{rng.choice(sources)}] {sym} spot ETF flows of ${rng.uniform(0.1, 2):.1f}B this week; "
            f"analysts see {rng.randint(2, 9)}% upside."
        )
    out += ["", "## 3. FAIR VALUE GAPS", ""]
    for sym, _, _ in m.coins:
        out.append(f"### FVG Analysis ({sym}/USDT)")
        gaps = rng.choice([0, 0, 1, 2])
        if not gaps:
            out += ["No unmitigated FVGs detected.", ""]
            case.traps.append("No unmitigated FVGs detected.")
            continue
        out.append("")
        price = float(m.data[sym]["price"])
        for _g in range(gaps):
            kind = rng.choice(["🟢 BULLISH", "🔴 BEARISH"])
            bottom = price * rng.uniform(0.95, 0.99)
            top = bottom * 1.006
            tf = rng.choice(["15m", "1h", "4h"])
            out += [
                f"**{kind} FVG** ({tf})",
                f"  - Zone: {money(bottom)} - {money(top)}",
                f"  - Middle (0.50): {money((bottom + top) / 2)}",
                f"  - Position: 📈 {rng.choice(['DISCOUNT', 'PREMIUM'])} ({rng.uniform(5, 95):.1f}%)",
                f"  - Impulse: {rng.uniform(0.8, 3):.1f}x ATR",
                "",
            ]
            case.traps.append(f"{kind.split()[1]} FVG ({tf})")
        rules = [
            "- LONG: Only in DISCOUNT zone, bullish FVG, close above 0.50",
            "- SHORT: Only in PREMIUM zone, bearish FVG, close below 0.50",
            "- AVOID: Mitigated FVGs (already touched)",
        ]
        out += ["**FVG Trading Rules:**", *rules, ""]
        case.instructions += rules
    cash, nav = rng.uniform(2000, 9000), rng.uniform(9000, 20000)
    out += [
        "## 4. PORTFOLIO",
        "",
        f"- **Available Capital**: {money(cash)}",
        f"- **Total NAV**: {money(nav)}",
        "",
        "### Open Positions (ANALYZE EACH FOR EXIT)",
        "",
    ]
    case.order.append("### Open Positions (ANALYZE EACH FOR EXIT)")
    for sym in held:
        pos = m.position(sym)
        name = next(n for s, n, _ in m.coins if s == sym)
        now = money(float(m.data[sym]["price"]))
        out += [
            f"**{name}** ({sym}/USDT):",
            f"  - Side: {pos.side} | Qty: {pos.qty}",
            f"  - Entry: {pos.entry} -> Current: {now}",
            f"  - **Unrealized P&L: {pos.pnl} ({rng.uniform(-3, 3):+.2f}%)**",
            f"  - SL: {pos.sl} (-3.5% away) | TP: {pos.tp} (+7.0% away)",
            f"  - Hold time: {rng.uniform(0.2, 30):.1f} hours",
            "  - **DECIDE: HOLD or CLOSE this position?**",
            "",
        ]
        case.positions.append(pos)
    instructions = [
        "**THE BOT MUST NOT ONLY GO LONG!**",
        "**NEVER recommend CLOSE for small profits (<2.0%)! This is wasteful.**",
        "**IMPORTANT: Analyze EACH symbol independently. An open position on one symbol should NOT block entries on others.**",
        "-> If profit < 2.0%: **HOLD** - let the profit run!",
        "- Example: 35% position @ 5x leverage = $17,500 notional = ~$17.50 in fees",
        "- Minimum move to break even: 0.10% / leverage",
    ]
    out += [
        "## DIRECTIONAL STRATEGY",
        "",
        "### NEUTRAL MARKET (Fear & Greed 35-65)",
        "**Use both LONG and SHORT based on technicals:**",
        "- RSI > 70 = SHORT signal (overbought)",
        "- RSI < 30 = LONG signal (oversold)",
        "",
        instructions[0],
        "**In Fear markets, SHORT trades are the PROFITABLE ones.**",
        "",
        "## DECISION FRAMEWORK",
        "",
        instructions[2],
        "",
        "**EXIT RULES:**",
        instructions[3],
        "-> If losing AND danger detected: **CLOSE** (protection)",
        "",
        instructions[1],
        "",
        "**Fee Structure:**",
        "- Round-trip fees: 0.10% (0.05% entry + 0.05% exit)",
        instructions[4],
        instructions[5],
        "",
    ]
    case.instructions += [
        *instructions,
        "- RSI > 70 = SHORT signal (overbought)",
        "- RSI < 30 = LONG signal (oversold)",
    ]
    case.order += ["## DIRECTIONAL STRATEGY", "## DECISION FRAMEWORK"]
    a, b = m.coins[0][0], m.coins[1][0]
    example = {
        f"{a}/USDT": {
            "signal": "hold",
            "confidence": 0.6,
            "justification": "No clear edge, RSI neutral at 52",
        },
        f"{b}/USDT": {
            "signal": "buy_to_enter",
            "confidence": 0.78,
            "entry_price": 3150.0,
            "stop_loss": 3045.0,
            "take_profit": 3400.0,
            "leverage": 5,
            "quantity": 0.5,
            "invalidation_condition": "Price breaks below $3,000 support",
        },
    }
    fmt = [
        "## RESPONSE FORMAT",
        "",
        "Answer in JSON.",
        "- `signal` must be EXACTLY ONE OF: `hold`, `buy_to_enter`, `sell_to_enter`, `close`",
        "- `confidence` must be a DECIMAL NUMBER like `0.75`, NOT a range",
        "",
        "**Example for 2 symbols (adapt to your analysis):**",
        "```json",
        json.dumps(example, indent=2)
        .replace("0.6,", "0.60,")
        .replace("3150.0", "3150.00")
        .replace("3045.0", "3045.00")
        .replace("3400.0", "3400.00"),
        "```",
        "",
        "**DO NOT copy the example values! Use YOUR OWN analysis.**",
    ]
    out += fmt
    case.order.append("## RESPONSE FORMAT")
    case.format_lines = [ln for ln in fmt[2:] if ln and not ln.startswith("```") and not ln.startswith("{")]
    case.answer_keys = [
        "signal",
        "confidence",
        "justification",
        "entry_price",
        "stop_loss",
        "take_profit",
        "leverage",
        "quantity",
        "invalidation_condition",
    ]
    case.allowed_values = ["hold", "buy_to_enter", "sell_to_enter", "close"]
    case.dont_copy = ["DO NOT copy the example values! Use YOUR OWN analysis."]
    case.example_numbers = ["3150.00", "3045.00", "3400.00"]
    case.traps += ["Example: 35% position @ 5x leverage = $17,500 notional = ~$17.50 in fees"]
    case.prompt = "\n".join(out) + "\n"
    return case


# --- shape 2: key=value dump -------------------------------------------------------------------------
def kv_dump(seed: int) -> Case:
    rng = random.Random(seed)
    m = Market(rng, rng.randint(3, 6))
    case = Case("key=value dump")
    held = rng.sample([s for s, _, _ in m.coins], rng.randint(1, 3))
    out = [
        "TRADING SESSION CONTEXT",
        "=======================",
        f"session_minutes={rng.randint(1000, 9000):,} invocations={rng.randint(100, 3000)} time=2025-11-21T14:05:00Z",
        "",
        "MARKET SNAPSHOT",
        "===============",
    ]
    case.order.append("MARKET SNAPSHOT")
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price = float(d["price"])
        p = num(price, sep=price > 1000)
        rsi = f"{d['rsi']:.1f}"
        trend = str(d["trend"]).lower()
        out.append(
            f"[BINANCE] {sym}USDT price={p} change_24h={float(d['change']):+.2f}% rsi14={rsi} "
            f"ema20={num(float(d['ema20']))} atr14={num(float(d['atr']))} trend={trend} "
            f"funding={float(d['funding']):.4f}%"
        )
        case.market += [(sym, "price", p), (sym, "rsi", rsi), (sym, "trend", trend)]
    out.append("")
    for sym, _, _ in m.coins:
        price = float(m.data[sym]["price"])
        closes = ", ".join(num(price * rng.uniform(0.98, 1.02)) for _ in range(12))
        out.append(f"{sym}USDT closes_1h: [{closes}, {num(price)}]")
    out += [
        "",
        "ACCOUNT",
        "=======",
        f"equity={num(rng.uniform(9000, 20000), sep=True)} cash={num(rng.uniform(2000, 9000))} margin_used={num(rng.uniform(100, 3000), sep=True)} max_leverage=5x",
        "",
        f"CURRENT POSITIONS ({len(held)})",
        "=" * 20,
    ]
    case.order.append(f"CURRENT POSITIONS ({len(held)})")
    for sym in held:
        pos = m.position(sym)
        now = money(float(m.data[sym]["price"]))
        out += [
            f"Symbol: {sym}/USDT | Side: {pos.side} | Size: {pos.qty}",
            f"Entry Price: {pos.entry} | Current: {now}",
            f"PnL: {pos.pnl} ({rng.uniform(-4, 4):+.2f}%)",
            f"Stop Loss: {pos.sl} | Take Profit: {pos.tp}",
            f"Notional Value: {money(rng.uniform(500, 9000))}",
            "─" * 40,
        ]
        case.positions.append(pos)
    rules = [
        "1. Never risk more than 2% of equity per trade. Always set a stop loss.",
        "2. Do not open a position against the 4h trend unless RSI is below 25 or above 75.",
        "3. Max leverage is 5x; prefer 2-3x when ATR is high.",
        "4. Close a position when its invalidation condition is met.",
    ]
    out += ["", "RULES", "=====", *rules, ""]
    case.instructions += rules
    case.traps.append("Always set a stop loss.")
    case.order.append("RULES")
    sym = m.coins[0][0]
    fmt = [
        "JSON FORMAT (THIS IS MANDATORY):",
        "{",
        f'  "{sym}USDT": {{',
        '    "signal": "hold" or "entry" or "exit",',
        '    "confidence": 0.65,',
        '    "justification": "Brief reason for decision",',
        '    "stop_loss": 86127.84,',
        '    "profit_target": 95491.58,',
        '    "side": "long",',
        '    "size_pct": 0.05',
        "  }",
        "}",
        "Output ONLY the JSON object, with no text after it.",
        "DO NOT copy the example numbers; compute your own levels.",
    ]
    out += fmt
    case.order.append("JSON FORMAT (THIS IS MANDATORY):")
    case.format_lines = fmt[1:]
    case.answer_keys = [
        "signal",
        "confidence",
        "justification",
        "stop_loss",
        "profit_target",
        "side",
        "size_pct",
    ]
    case.allowed_values = ['"hold" or "entry" or "exit"']
    case.dont_copy = [
        "DO NOT copy the example numbers; compute your own levels.",
        "Output ONLY the JSON object, with no text after it.",
    ]
    case.example_numbers = ["86127.84", "95491.58"]
    case.prompt = "\n".join(out) + "\n"
    return case


# --- shape 3: prose report ---------------------------------------------------------------------------
def prose_report(seed: int) -> Case:
    rng = random.Random(seed)
    m = Market(rng, rng.randint(3, 5))
    case = Case("prose report")
    held = rng.sample([s for s, _, _ in m.coins], rng.randint(1, 2))
    out = [
        "MARKET CONDITIONS REPORT",
        f"It is Friday, 21 November 2025, 14:{rng.randint(10, 59)} UTC. Volatility is elevated after the overnight sell-off, "
        "and liquidity remains thin across most venues. Below you will find a dashboard per asset, a narrative "
        "check, a menu of hypotheses and the state of the account.",
        "",
        "1. DASHBOARD",
    ]
    case.order.append("1. DASHBOARD")
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price = float(d["price"])
        lo, hi = price * 0.985, price * 1.012
        p = num(price, sep=True)
        out += [
            sym,
            "",
            f"Price Structure [CHARTS]: trading at {p}; 4H range {num(lo, 0 if price > 100 else None, True)}–{num(hi, 0 if price > 100 else None, True)}; "
            f"intraday higher lows from ~{num(price * 0.99, sep=True)}→{num(price * 1.004, sep=True)} (range-bound, up-leg).",
            f"Net Funding [HYPERLIQUID]: {float(d['funding']):+.4f}%.",
            f"OI Trend [HYPERLIQUID]: {float(d['oi']):,.0f} ({rng.uniform(-5, 5):+.1f}% in 24h).",
            f"Liquidity [HYPERLIQUID]: {rng.choice(['Book balanced around VWAP; no dominant wall reported.', 'Thin bids below the range low; asks stacked above.', 'Balanced; spreads tight.'])}",
            f"Momentum [MARKET_DATA]: RSI(14) {d['rsi']:.1f}, trend {str(d['trend']).lower()}, volume {float(d['vol']):.2f}x the 20-day average.",
        ]
        case.market.append((sym, "price", p))
    out += [
        "",
        "2. NARRATIVE CHECK",
        "ETF flows and macro",
        f"Narrative: Spot ETF inflows of ${rng.uniform(0.2, 2):.1f}B this week, the largest since March.",
        "Time: ~5h ago.",
        f"Reaction Check: BTC up {rng.uniform(0.5, 3):.1f}% while alts lag; ETH/BTC at {rng.uniform(0.03, 0.04):.4f}.",
        "Current Status:",
        "Good news absorbed and price holding the range → ABSORPTION (Bullish). Buyers stepped in at the prior "
        "range low, and the move came with rising open interest, which suggests fresh longs rather than short "
        "covering. That said, the broader picture remains mixed. Several large holders moved coins to exchanges, "
        "which has often preceded short-term pullbacks.",
        "",
        "3. MARKET COMMENTARY",
    ]
    for sym, name, _ in m.coins:
        d = m.data[sym]
        out.append(
            f"{name} extended its move overnight and now trades near {money(float(d['price']))}. "
            "The reaction to the latest headlines was muted, and order books remain shallow on both sides. "
            f"Momentum is {'constructive' if float(d['rsi']) > 50 else 'weak'}, with the RSI at {d['rsi']:.1f} and the 20-period "
            f"EMA at {money(float(d['ema20']))}. "
            "Traders appear reluctant to chase the move, preferring to wait for a retest of the range edges. "
            "Derivatives positioning looks balanced, and there is no sign of forced selling at current levels."
        )
        out.append("")
    out.append("4. HYPOTHESES")
    for sym, _, _ in m.coins:
        price = float(m.data[sym]["price"])
        out += [
            sym,
            f"Hypothesis A (Trend Following): Long above {num(price * 1.003, 0 if price > 100 else None, True)} targeting "
            f"{num(price * 1.03, 0 if price > 100 else None, True)}–{num(price * 1.04, 0 if price > 100 else None, True)}, stop below {num(price * 0.985, 0 if price > 100 else None, True)}.",
            f"Hypothesis B (Mean Reversion): Fade spikes into the range top with stops {rng.uniform(0.5, 1.5):.1f}% above it.",
            "Latent Risk: A macro headline could flip the tape; the range low is the line in the sand.",
            "",
        ]
    out += [
        "5. ACCOUNT AND POSITIONS",
        f"Available capital: {rng.uniform(2000, 9000):.6f}",
        f"Net asset value: {rng.uniform(9000, 20000):.5f}",
    ]
    case.order.append("5. ACCOUNT AND POSITIONS")
    for sym in held:
        pos = m.position(sym, money_style=False)
        d = m.data[sym]
        out.append(
            "{"
            f"'symbol': '{sym}', 'side': '{pos.side}', 'quantity': {pos.qty}, 'entry_price': {pos.entry}, "
            f"'current_price': {num(float(d['price']))}, 'unrealized_pnl': {pos.pnl}, 'leverage': {rng.randint(2, 10)}, "
            f"'exit_plan': {{'profit_target': {pos.tp}, 'stop_loss': {pos.sl}, "
            f"'invalidation_condition': 'Price closes below the range low on the 4H chart'}}, "
            f"'confidence': {rng.uniform(0.5, 0.9):.2f}, 'sl_oid': {rng.randint(10**9, 10**10)}, "
            f"'tp_oid': {rng.randint(10**9, 10**10)}, 'wait_for_fill': False"
            "}"
        )
        case.positions.append(pos)
    instr = [
        "Think step by step about each asset before you decide. You must only trade when confidence exceeds 0.70. "
        "Always set a stop loss and a profit target. Never add to a losing position.",
        "Keep each justification to one or two sentences.",
    ]
    out += ["", "6. INSTRUCTIONS", *instr, ""]
    case.instructions += instr
    case.order.append("6. INSTRUCTIONS")
    fmt_line = (
        'Respond with JSON only, keyed by symbol: {"BTC": {"signal": "hold|buy|sell|close", "confidence": 0.0, '
        '"stop_loss": 0.0, "profit_target": 0.0, "justification": "..."}}'
    )
    out += ["7. RESPONSE FORMAT", fmt_line, "The values shown are placeholders: never copy them."]
    case.order.append("7. RESPONSE FORMAT")
    case.format_lines = [fmt_line, "The values shown are placeholders: never copy them."]
    case.answer_keys = ["signal", "confidence", "stop_loss", "profit_target", "justification"]
    case.allowed_values = ["hold|buy|sell|close"]
    case.dont_copy = ["The values shown are placeholders: never copy them."]
    case.traps.append("Always set a stop loss and a profit target.")
    case.prompt = "\n".join(out) + "\n"
    return case


# --- shape 4: JSON state -----------------------------------------------------------------------------
def json_state(seed: int) -> Case:
    rng = random.Random(seed)
    m = Market(rng, rng.randint(3, 5))
    case = Case("JSON state")
    held = rng.sample([s for s, _, _ in m.coins], rng.randint(1, 2))
    markets: dict[str, object] = {}
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price = round(float(d["price"]), _decimals(float(d["price"])))
        closes = [round(price * rng.uniform(0.98, 1.02), _decimals(price)) for _ in range(16)]
        markets[f"{sym}/USDT"] = {
            "price": price,
            "change_24h_pct": round(float(d["change"]), 2),
            "rsi_14": d["rsi"],
            "ema_20": round(float(d["ema20"]), 3),
            "trend": str(d["trend"]).lower(),
            "funding_rate": float(d["funding"]) / 100,
            "closes_1h": [*closes, price],
        }
        case.market += [
            (sym, "price", json.dumps(price)),
            (sym, "rsi", json.dumps(d["rsi"])),
            (sym, "trend", str(d["trend"]).lower()),
        ]
    positions = []
    for sym in held:
        pos = m.position(sym, money_style=False)
        positions.append(
            {
                "symbol": f"{sym}/USDT",
                "side": pos.side,
                "qty": float(pos.qty),
                "entry_price": float(pos.entry),
                "stop_loss": float(pos.sl),
                "take_profit": float(pos.tp),
                "unrealized_pnl": float(pos.pnl or 0),
                "order_id": f"{rng.getrandbits(48):x}",
            }
        )
        case.positions.append(
            Position(
                sym,
                pos.side,
                json.dumps(float(pos.qty)),
                json.dumps(float(pos.entry)),
                json.dumps(float(pos.sl)),
                json.dumps(float(pos.tp)),
                json.dumps(float(pos.pnl or 0)),
            )
        )
    state = {
        "generated_at": "2025-11-21T14:05:00Z",
        "account": {
            "equity": round(rng.uniform(9000, 20000), 2),
            "cash": round(rng.uniform(2000, 9000), 2),
            "open_risk_pct": 1.8,
        },
        "markets": markets,
        "positions": positions,
    }
    instr = [
        "- You MUST keep total open risk below 5% of equity.",
        "- NEVER move a stop loss further away from the entry.",
        "- Only trade symbols present in `markets`.",
        "- IMPORTANT: a position without a stop loss is not allowed.",
    ]
    example = [
        {
            "symbol": "BTC/USDT",
            "action": "BUY",
            "size_pct": 0.1,
            "stop_loss": 87000,
            "take_profit": 95000,
            "confidence": 0.72,
            "reason": "Breakout above range high with rising OI",
        }
    ]
    fmt = [
        "Return a JSON array, one object per symbol, and nothing else:",
        "```json",
        json.dumps(example),
        "```",
        "`action` is one of BUY, SELL, HOLD, CLOSE.",
        "The numbers above are placeholders: do not copy them.",
    ]
    out = [
        "You are a quantitative crypto trading assistant. The market state is given as JSON below.",
        "",
        "## STATE",
        "```json",
        json.dumps(state, indent=2),
        "```",
        "",
        "## CONSTRAINTS",
        *instr,
        "",
        "## OUTPUT FORMAT",
        *fmt,
    ]
    case.order += ["## STATE", "## CONSTRAINTS", "## OUTPUT FORMAT"]
    case.instructions += instr
    case.format_lines = [f for f in fmt if not f.startswith("```") and not f.startswith("[")]
    case.answer_keys = ["symbol", "action", "size_pct", "stop_loss", "take_profit", "confidence", "reason"]
    case.allowed_values = ["`action` is one of BUY, SELL, HOLD, CLOSE."]
    case.dont_copy = ["The numbers above are placeholders: do not copy them."]
    case.example_numbers = ["87000", "95000"]
    case.prompt = "\n".join(out) + "\n"
    return case


# --- shape 5: tables ----------------------------------------------------------------------------------
def tables(seed: int) -> Case:
    rng = random.Random(seed)
    m = Market(rng, rng.randint(3, 6))
    case = Case("tables")
    held = rng.sample([s for s, _, _ in m.coins], rng.randint(1, 3))
    out = [
        "You manage a crypto futures book. Review the tables and decide for every symbol.",
        "",
        "### Market overview (1h)",
        "| Symbol | Last | 24h % | RSI(14) | EMA20 | EMA50 | Trend | Funding |",
        "|--------|-----:|------:|--------:|------:|------:|-------|--------:|",
    ]
    case.order.append("### Market overview (1h)")
    for sym, _, _ in m.coins:
        d = m.data[sym]
        price = float(d["price"])
        p = num(price, sep=True)
        rsi = f"{d['rsi']:.1f}"
        out.append(
            f"| {sym}/USDT | {p} | {pct(float(d['change']))} | {rsi} | {num(float(d['ema20']), sep=True)} | "
            f"{num(float(d['ema50']), sep=True)} | {str(d['trend']).title()} | {float(d['funding']):.4f}% |"
        )
        case.market += [(sym, "price", p), (sym, "rsi", rsi), (sym, "trend", str(d["trend"]).title())]
    sym0 = m.coins[0][0]
    price0 = float(m.data[sym0]["price"])
    out += [
        "",
        f"### {sym0}/USDT last candles (1h, oldest first)",
        "| Time (UTC) | Open | High | Low | Close | Volume |",
        "|---|---|---|---|---|---|",
    ]
    for h in range(12):
        o = price0 * rng.uniform(0.98, 1.02)
        out.append(
            f"| 2025-11-21 {h:02d}:00 | {num(o, sep=True)} | {num(o * 1.004, sep=True)} | {num(o * 0.996, sep=True)} | "
            f"{num(o * rng.uniform(0.997, 1.003), sep=True)} | {rng.uniform(100, 5000):,.1f} |"
        )
    out += [
        "",
        "### Open positions",
        "| Symbol | Side | Qty | Entry | Stop | Target | uPnL |",
        "|---|---|---|---|---|---|---|",
    ]
    case.order.append("### Open positions")
    for sym in held:
        pos = m.position(sym, money_style=False)
        pos = Position(
            sym,
            pos.side.upper(),
            pos.qty,
            num(float(pos.entry), sep=True),
            num(float(pos.sl), sep=True),
            num(float(pos.tp), sep=True),
            pos.pnl,
        )
        out.append(f"| {sym}/USDT | {pos.side} | {pos.qty} | {pos.entry} | {pos.sl} | {pos.tp} | {pos.pnl} |")
        case.positions.append(pos)
    rules = [
        "1. Max 3 concurrent positions.",
        "2. Stop distance must be at least 1.5x ATR(14).",
        "3. Do not trade during the 30 minutes around funding.",
        "4. Size every position so that hitting the stop costs at most 1% of equity.",
    ]
    out += ["", "### Risk rules", *rules, ""]
    case.instructions += rules
    case.order.append("### Risk rules")
    fmt = [
        "### Answer format (YAML)",
        "```yaml",
        "decisions:",
        f"  - symbol: {sym0}/USDT",
        "    signal: BUY | SELL | HOLD | CLOSE",
        "    confidence: 0.7",
        "    stop: 87000",
        "    target: 95000",
        "```",
        "Replace every example value with your own; never echo the template.",
    ]
    out += fmt
    case.order.append("### Answer format (YAML)")
    case.format_lines = [
        "decisions:",
        "signal: BUY | SELL | HOLD | CLOSE",
        "confidence: 0.7",
        "Replace every example value with your own; never echo the template.",
    ]
    case.answer_keys = ["decisions", "symbol", "signal", "confidence", "stop", "target"]
    case.allowed_values = ["BUY | SELL | HOLD | CLOSE"]
    case.dont_copy = ["Replace every example value with your own; never echo the template."]
    case.example_numbers = ["87000", "95000"]
    case.prompt = "\n".join(out) + "\n"
    return case


SHAPES = {
    "markdown dashboard": markdown_dashboard,
    "key=value dump": kv_dump,
    "prose report": prose_report,
    "JSON state": json_state,
    "tables": tables,
}


def corpus(seeds: range = range(3)) -> list[Case]:
    """Every shape for each seed."""
    return [build(seed) for build in SHAPES.values() for seed in seeds]
