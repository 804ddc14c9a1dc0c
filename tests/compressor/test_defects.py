"""Issue 12: every defect found on other bots' prompts, reproduced as it was described, then fixed."""

from __future__ import annotations

import pytest

from pytest_oxbot.compressor import (
    AdaptivePromptCompressor,
    Fact,
    changed_numbers,
    check_fidelity,
    required_facts,
)

from .factcheck import in_order, line_kept, numbers_kept_as_written, squash

COMPRESSOR = AdaptivePromptCompressor("gpt-4o")
MODES = ["analysis", "standard", "emergency"]

FEES = "- Example: 35% position @ 5x leverage = $17,500 notional = ~$17.50 in fees"
FEES_PROMPT = f"""## DECISION FRAMEWORK

**Fee Structure:**
- Round-trip fees: 0.10% (0.05% entry + 0.05% exit)
{FEES}
- Minimum move to break even: 0.10% / leverage

### BTC
Price: $89,244.47
RSI(14): 61.8
"""


# --- a number is split and the check says fine -------------------------------------------------------
def test_the_split_number_is_caught_by_changed_numbers() -> None:
    mangled = FEES_PROMPT.replace(
        FEES, "Example: 35% position @ 5x leverage=$17, 500 notional=~$17.50 in fees"
    )
    assert changed_numbers(FEES_PROMPT, mangled) == ["$17", "500"]
    assert not check_fidelity(FEES_PROMPT, mangled).ok


@pytest.mark.parametrize(
    ("original", "mangled", "changed"),
    [
        ("range 383–405 today", "range 383 405 today", ["383", "405"]),
        ("range 383–405 today", "range 383-405 today", ["383-405"]),
        ("volume 0.14x average", "volume 0.14 average", ["0.14"]),
        ("P&L $+67.95", "P&L $67.95", ["$67.95"]),
        ("down -4.0% today", "down 4.0% today", ["4.0%"]),
        ("funding +0.0100%", "funding +0.0100", ["+0.0100"]),
        ("cap 1,234,567.5", "cap 1,234, 567.5", ["1,234", "567.5"]),
        ("at ~$17.50", "at $17.50", ["$17.50"]),
    ],
)
def test_numbers_are_compared_as_written(original: str, mangled: str, changed: list[str]) -> None:
    assert changed_numbers(original, mangled) == sorted(changed)


@pytest.mark.parametrize("mode", MODES)
def test_the_fee_example_keeps_its_numbers(mode: str) -> None:
    result = COMPRESSOR.compress_by_context(FEES_PROMPT, mode)
    assert changed_numbers(FEES_PROMPT, result) == []
    assert numbers_kept_as_written(FEES_PROMPT, result) == []
    if mode != "emergency":
        assert "$17,500" in result
        assert line_kept(result, FEES)


# --- instructions are dropped ----------------------------------------------------------------------
DO_NOT_COPY = "**DO NOT copy the example values!**"
BOLD_PROMPT = f"""### BTC
Price: 89244.47

## RESPONSE FORMAT
Answer in JSON.
{DO_NOT_COPY}
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_standalone_bold_line_is_not_an_empty_heading(mode: str) -> None:
    result = COMPRESSOR.compress_by_context(BOLD_PROMPT, mode)
    assert line_kept(result, DO_NOT_COPY), result
    assert "headings with nothing under them" not in " ".join(result.summary)


IMPERATIVES = [
    "**THE BOT MUST NOT ONLY GO LONG!**",
    "**NEVER recommend CLOSE for small profits (<2.0%)! This is wasteful.**",
    "**IMPORTANT: Analyze EACH symbol independently. Having an open position on one symbol should NOT "
    "prevent entries on other symbols if there is available capital.**",
    "ALWAYS keep 20% of the account in cash.",
    "This rule is MANDATORY: one position per symbol.",
    "A stop loss is REQUIRED for every entry.",
    "Do not trade during the funding window.",
]


@pytest.mark.parametrize("mode", ["analysis", "standard"])
def test_instruction_lines_are_never_dropped(mode: str) -> None:
    prompt = "\n\n".join(
        [
            "### Market",
            "BTC price: 89,244.47. The tape is quiet and liquidity is thin. Nothing else stands out today.",
            *IMPERATIVES,
            "### ETH",
            "Price: 3,052.18",
        ]
    )
    result = COMPRESSOR.compress_by_context(prompt, mode)
    for line in IMPERATIVES:
        assert line_kept(result, line), line


def test_a_user_declared_instruction_pattern_is_kept() -> None:
    line = "The pair with the highest funding carry wins once the trend is confirmed everywhere."
    prompt = f"### BTC\nPrice: 1.5\n\n{line} Extra sentence without data follows here."
    plain = COMPRESSOR.compress_by_context(prompt, "standard")
    assert "Extra sentence" not in plain  # narrative prose is trimmed ...
    custom = AdaptivePromptCompressor(instructions=[r"(?i)funding carry"]).compress_by_context(
        prompt, "standard"
    )
    assert line_kept(
        custom, line + " Extra sentence without data follows here."
    )  # ... a declared instruction is not


JSON_ONLY_PROMPT = (
    "### BTC\nPrice: 89244.47\nRSI: 61.8\n\n### RESPONSE FORMAT\n"
    'Answer with JSON only: {"BTC": {"signal": ..., "confidence": ..., "stop_loss": ..., '
    '"profit_target": ..., "leverage": ..., "justification": "..."}}\n'
)


@pytest.mark.parametrize("mode", MODES)
def test_the_answer_format_is_not_reduced_to_a_position_line(mode: str) -> None:
    result = COMPRESSOR.compress_by_context(JSON_ONLY_PROMPT, mode)
    assert "sl=number" not in result
    assert "- BTC: sl=" not in result
    assert "JSON only" in result
    for key in ("signal", "confidence", "stop_loss", "profit_target", "leverage", "justification"):
        assert key in result, key


RULES_PROMPT = """### Market
BTC price: 89244.47

## RULES
- Risk at most 2% of equity per trade. Always set a stop loss. Never move it away from the entry.
- Keep leverage at or below 5x.
"""


@pytest.mark.parametrize("mode", ["analysis", "standard"])
def test_a_rules_list_is_not_cut_to_its_first_sentence(mode: str) -> None:
    result = COMPRESSOR.compress_by_context(RULES_PROMPT, mode)
    assert "Always set a stop loss." in result
    assert "Never move it away from the entry." in result


# --- positions in other shapes -------------------------------------------------------------------------
POSITION_LINES = [
    "**Bitcoin** (BTC/USDT):",
    "  - Side: LONG | Qty: 0.05",
    "  - Entry: $89,244.47 -> Current: $90,603.52",
    "  - **Unrealized P&L: $+67.95 (+1.52%)**",
    "  - SL: $86,979.38 (-4.0% away) | TP: $95,133.70",
]
POSITION_PROMPT = "### Open Positions (ANALYZE EACH FOR EXIT)\n\n" + "\n".join(POSITION_LINES) + "\n"
POSITION_FACTS = {
    Fact("BTC", "position", "BTC"),
    Fact("BTC", "side", "LONG"),
    Fact("BTC", "qty", "0.05"),
    Fact("BTC", "entry", "$89,244.47"),
    Fact("BTC", "sl", "$86,979.38"),
    Fact("BTC", "tp", "$95,133.70"),
    Fact("BTC", "pnl", "$+67.95"),
}


def test_a_markdown_position_block_yields_its_facts() -> None:
    assert required_facts(POSITION_PROMPT) == POSITION_FACTS


@pytest.mark.parametrize("mode", MODES)
def test_a_markdown_position_block_survives_every_mode(mode: str) -> None:
    result = COMPRESSOR.compress_by_context(POSITION_PROMPT, mode)
    assert required_facts(result) >= POSITION_FACTS
    for value in ("$89,244.47", "$86,979.38", "$95,133.70", "$+67.95", "0.05", "LONG"):
        assert value in result, value


def test_the_check_sees_a_lost_stop_loss() -> None:
    without_sl = POSITION_PROMPT.replace(POSITION_LINES[-1] + "\n", "")
    report = check_fidelity(POSITION_PROMPT, without_sl)
    assert not report.ok
    assert Fact("BTC", "sl", "$86,979.38") in report.missing_facts


@pytest.mark.parametrize(
    "prompt",
    [
        "Symbol: BTC/USDT | Side: LONG | Size: 0.05\nEntry Price: $89,244.47 | Current: $90,603.52\n"
        "PnL: $+67.95 (+1.52%)\nStop Loss: $86,979.38 | Take Profit: $95,133.70\n",
        "### Positions\n| Symbol | Side | Qty | Entry | Stop | Target | uPnL |\n"
        "|---|---|---|---|---|---|---|\n"
        "| BTC/USDT | LONG | 0.05 | $89,244.47 | $86,979.38 | $95,133.70 | $+67.95 |\n",
        '### Positions\n```json\n{"positions": [{"symbol": "BTC/USDT", "side": "LONG", "qty": 0.05, '
        '"entry_price": 89244.47, "stop_loss": 86979.38, "take_profit": 95133.7, '
        '"unrealized_pnl": 67.95}]}\n```\n',
        "{'symbol': 'BTC', 'side': 'LONG', 'quantity': 0.05, 'entry_price': 89244.47, "
        "'unrealized_pnl': 67.95, "
        "'exit_plan': {'profit_target': 95133.7, 'stop_loss': 86979.38}, 'sl_oid': 123, 'tp_oid': 124}\n",
        "- BTC: side=LONG qty=0.05 entry=89244.47 sl=86979.38 tp=95133.7 pnl=67.95\n",
    ],
    ids=["key-value", "table", "json", "dict", "k=v"],
)
@pytest.mark.parametrize("mode", MODES)
def test_positions_in_other_shapes_are_facts_and_survive(prompt: str, mode: str) -> None:
    facts = required_facts(prompt)
    kinds = {f.kind for f in facts if f.symbol == "BTC"}
    assert {"position", "side", "qty", "entry", "sl", "tp", "pnl"} <= kinds
    result = COMPRESSOR.compress_by_context(prompt, mode)
    assert facts <= required_facts(result)


# --- emergency mangles the answer template ----------------------------------------------------------
TEMPLATE_PROMPT = """### BTC
Price: 89244.47
RSI(14): 61.8
Trend: bullish

## RESPONSE FORMAT
- `signal` must be EXACTLY ONE OF: `hold`, `buy_to_enter`, `sell_to_enter`, `close`

**Example:**
```json
{"BTC/USDT": {"signal": "buy_to_enter", "confidence": 0.78, "entry_price": 3150.00,
  "stop_loss": 3045.00, "take_profit": 3400.00, "leverage": 5,
  "justification": "Strong support bounce"}}
```

**DO NOT copy the example values! Use YOUR OWN analysis.**
"""


def test_emergency_keeps_keys_and_allowed_values_and_types_the_example() -> None:
    result = COMPRESSOR.compress_by_context(TEMPLATE_PROMPT, "emergency")
    for key in (
        "signal",
        "confidence",
        "entry_price",
        "stop_loss",
        "take_profit",
        "leverage",
        "justification",
    ):
        assert f'"{key}"' in result, key
    assert line_kept(
        result, "- `signal` must be EXACTLY ONE OF: `hold`, `buy_to_enter`, `sell_to_enter`, `close`"
    )
    assert line_kept(result, "**DO NOT copy the example values! Use YOUR OWN analysis.**")
    for example in ("3150.00", "3045.00", "3400.00", "0.78", "Strong support bounce"):
        assert example not in result, example
    assert '"confidence":number' in squash(result)
    assert '"leverage":int' in squash(result)
    assert '"signal":"buy_to_enter"' in squash(result)  # an allowed value, not an example number


# --- per-symbol de-duplication and "static first" ----------------------------------------------------
FVG_PROMPT = """## FAIR VALUE GAPS

### FVG Analysis (BTC/USDT)

**🟢 BULLISH FVG** (15m)
  - Zone: $88,100.00 - $88,650.00
  - Middle (0.50): $88,375.00

### FVG Analysis (ETH/USDT)
No unmitigated FVGs detected.

### FVG Analysis (SOL/USDT)

**🟢 BULLISH FVG** (15m)
  - Zone: $141.10 - $141.95
  - Middle (0.50): $141.52

### FVG Analysis (XRP/USDT)
No unmitigated FVGs detected.
"""


@pytest.mark.parametrize("mode", ["analysis", "standard"])
def test_dedup_never_deletes_lines_that_differ(mode: str) -> None:
    result = COMPRESSOR.compress_by_context(FVG_PROMPT, mode)
    assert result.count("BULLISH FVG (15m)") == 2
    assert "No unmitigated FVGs detected." in result
    for number in ("$88,100.00", "$88,650.00", "$141.10", "$141.95"):
        assert number in result
    # ETH and XRP both say it: once, naming both
    assert "ETH" in result
    assert "XRP" in result


LIVE_PROMPT = """## MARKET DATA
### BTC
Price: 89,244.47
RSI(14): 61.8

### Open Positions
- BTC: side=LONG qty=0.05 entry=89244.47 sl=86979.38 tp=95133.7

## RULES
- Never risk more than 2% per trade.
"""


@pytest.mark.parametrize("mode", MODES)
def test_nothing_moves_unless_it_is_named_static(mode: str) -> None:
    result = COMPRESSOR.compress_by_context(LIVE_PROMPT, mode)
    assert in_order(result, ["## MARKET DATA", "### Open Positions", "## RULES"])
    assert result.index("Price: 89,244.47") < result.index("entry=89244.47")


def test_a_section_named_static_moves_first() -> None:
    named = AdaptivePromptCompressor(static_sections=["RULES"])
    result = named.compress_by_context(LIVE_PROMPT, "standard")
    assert result.startswith("## RULES\n- Never risk more than 2% per trade.")
    assert in_order(result, ["## MARKET DATA", "### Open Positions"])


def test_a_section_seen_unchanged_in_the_previous_prompt_moves_first() -> None:
    learner = AdaptivePromptCompressor(learn_static=True)
    first = learner.compress_by_context(LIVE_PROMPT, "standard")
    assert first.index("## MARKET DATA") < first.index("## RULES")  # nothing proven yet
    later = LIVE_PROMPT.replace("89,244.47", "89,301.02")
    second = learner.compress_by_context(later, "standard")
    assert second.startswith("## RULES")  # the same text last cycle: proven static
    assert second.index("## MARKET DATA") < second.index("### Open Positions")
    other = AdaptivePromptCompressor(learn_static=True).compress_by_context(later, "standard")
    assert other.index("## MARKET DATA") < other.index("## RULES")  # another instance saw nothing


# --- prose-heavy prompts ---------------------------------------------------------------------------
def test_repeated_per_entity_labels_are_pivoted_not_kept_as_prose() -> None:
    entities = ["TSLA", "NVDA", "MSFT", "AMZN"]
    blocks = []
    for i, name in enumerate(entities):
        blocks.append(
            f"{name}\n\nPrice Structure (Global [CHARTS]): 4H range {383 + i}–{405 + i}; "
            "intraday higher lows.\n"
            f"Net Funding [HYPERLIQUID]: +0.00{124 + i}%.\n"
            f"OI Trend [HYPERLIQUID]: {9 + i},438 (no % history).\n"
            f"Liquidity [HYPERLIQUID]: Book balanced around VWAP/mid-band; no dominant wall reported."
        )
    prompt = "1. RAW DATA DASHBOARD\n" + "\n".join(blocks) + "\n"
    result = COMPRESSOR.compress_by_context(prompt, "standard")
    assert result.count("Net Funding [") == 1  # the label once, as a column
    assert result.reduction >= 0.25
    assert changed_numbers(prompt, result) == []
    for i in range(4):
        assert f"{383 + i}–{405 + i}" in result
