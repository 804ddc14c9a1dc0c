# ruff: noqa: E501 (prompt lines are written as a bot writes them)
"""Shapes from a sixth red-team pass (prompts written as other bots write them: European numbers in a
series, INI dumps of tickers per venue, a YAML answer after a lead-in line, a table answer described in
prose, answer formats that are not JSON, price lists separated by `|` or `·`, psql output, positions keyed
by an option instrument). Each test failed before its fix: a number was cut, the call raised, or a format
line, a price or a position went and the check did not say so.
"""

from __future__ import annotations

import pytest

from pytest_oxbot.compressor import AdaptivePromptCompressor, check_fidelity
from pytest_oxbot.compressor.facts import Fact, required_facts

from .factcheck import EVERY_MODE, compress_checked, numbers_kept_as_written

STRICT = AdaptivePromptCompressor("gpt-4o", verify=True)

EU_SERIES = """BTC: price 91.234,56, RSI 55,2
BTC closes: [89.100,00, 89.950,25, 90.410,70, 90.880,10, 91.234,56]
ETH closes: [0,9810, 0,9955, 0,0388, 0,0412, 1,0412]
Respond with JSON only: {"signal": "buy|sell|hold"}
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_series_of_decimal_comma_numbers_keeps_each_value_whole(mode: str) -> None:
    """`[89.100,00, 89.950,25, ...]` was split at every comma: standard kept `[10,91.234,56]`."""
    out = compress_checked(EU_SERIES, mode)
    assert numbers_kept_as_written(EU_SERIES, out) == []
    if mode == "standard":
        assert "BTC closes: [90.410,70, 90.880,10, 91.234,56]" in out
        assert "ETH closes: [0,0388, 0,0412, 1,0412]" in out


def test_an_elided_series_of_decimal_comma_numbers_stays_apart() -> None:
    prompt = "X closes: [" + ", ".join(f"9{i}.200,{i}0" for i in range(12)) + "]\n"
    prompt += 'Respond with JSON only: {"signal": "buy|sell|hold"}\n'
    out = compress_checked(prompt, "analysis")
    assert "X closes: […, 92.200,20, 93.200,30," in out


INI = """[BTCUSDT@binance]
bid=62,418.10
last=62,418.15

[BTCUSDT@okx]
bid=62,431.9
last=62,432.0

[ANSWER]
Reply with one line per pair: <PAIR> <BUY_VENUE> <SELL_VENUE> <QTY> or <PAIR> SKIP
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_an_ini_section_with_one_line_left_still_names_its_symbol(mode: str) -> None:
    """`minimal` kept `[BTCUSDT@okx]` / `last=62,432.0`, then read no price from it: with the default
    `verify=True` the call raised FidelityError, and a second pass dropped the prices."""
    out = str(STRICT.compress_by_context(INI, mode))
    assert "last=62,418.15" in out
    assert "last=62,432.0" in out
    assert str(STRICT.compress_by_context(out, mode)) == out


YAML_AFTER_LEAD = """BTC/USDT last price: 58,933.21
OUTPUT FORMAT
One YAML document:
grids:
  A: {action: keep|pause|stop, new_range: "low-high or null"}
  B: {action: keep|pause|stop, new_range: "low-high or null"}
comment: one sentence
"""


@pytest.mark.parametrize("mode", ["analysis", "standard"])
def test_a_yaml_answer_after_a_lead_in_line_keeps_its_indentation(mode: str) -> None:
    out = compress_checked(YAML_AFTER_LEAD, mode)
    assert '\n  A: {action: keep|pause|stop, new_range: "low-high or null"}\n' in out


TABLE_ANSWER = """BTC: price 99,412.7, RSI 66
Reply as a compact table, one row per symbol, columns exactly: sym | act | qty
act: long/short/add/trim/close/hold. Use "-" for empty cells. No other text.
"""


@pytest.mark.parametrize("mode", ["analysis", "standard"])
def test_no_other_text_is_an_instruction(mode: str) -> None:
    """`standard` trimmed `No other text.` off the line that gives the allowed actions."""
    out = compress_checked(TABLE_ANSWER, mode)
    assert 'act: long/short/add/trim/close/hold. Use "-" for empty cells. No other text.' in out


@pytest.mark.parametrize(
    "line", ["No other text.", "No commentary.", "Nothing else.", "No explanations outside the JSON."]
)
def test_limits_on_the_answer_are_instructions_and_data_that_starts_with_no_is_not(line: str) -> None:
    prompt = f'BTC: price 99,412.7\nNo clear trend.\n{line}\nRespond with JSON only: {{"signal": "buy|sell|hold"}}\n'
    report = check_fidelity(prompt, prompt.replace(line + "\n", ""))
    assert line in report.missing_instructions
    assert (
        "No clear trend."
        not in check_fidelity(prompt, prompt.replace("No clear trend.\n", "")).missing_instructions
    )
    assert Fact("BTC", "price", "99,412.7") in required_facts(prompt)


LINE_FORMATS = {
    "one line per symbol": """BTC: price 94,318.20, RSI 51.0
Respond with one line per symbol in this form, and nothing else:
SYMBOL: ENTER_CARRY <venue> <notional_usd> | EXIT_CARRY <id> | HOLD
""",
    "shape in capitals": """BTC: price 99,102.5, RSI 71.8
ETH: price 3,912.44, RSI 64.3
Reply with one line per coin, in this exact shape:
SYMBOL ACTION SIZE
where ACTION is BUY, SELL, HOLD or CLOSE and SIZE is in coin units (0 for HOLD).
""",
    "three labelled lines": """BTC: price 94,210, RSI 41, trend down
Bot, answer in this thread with exactly three lines:
DECISION: <symbol> <long|short|close|none> <size>
STOP: <price or n/a>
WHY: <max 20 words>
""",
    "set notation": """BTCUSDT mid 96,102.35, last 96,102.3
ANSWER FORMAT (strict):
SYMBOL|ACTION|PRICE|QTY
ACTION ∈ {BID, ASK, CANCEL, NONE}
one row per symbol, no header, no extra text.
""",
    "TOML": '''[market.BTC]
price = 90_412.3
rsi_14 = 54.8

[answer]
# Reply in TOML with exactly these keys per symbol, nothing else.
format = """
[decision.BTC]
action = "open_deal" | "add_safety" | "close" | "hold"
confidence = 0.0-1.0
"""
''',
}


@pytest.mark.parametrize("mode", EVERY_MODE)
@pytest.mark.parametrize("shape", LINE_FORMATS)
def test_an_answer_format_that_is_not_json_is_kept_in_every_mode(shape: str, mode: str) -> None:
    """`emergency` dropped these answer formats whole or but for one line (the check did not see it:
    they were not known to be the answer format): a lead-in with an answer verb ending in a colon opens
    it, and lines in capitals under it are its shape, not headings."""
    prompt = LINE_FORMATS[shape]
    out = compress_checked(prompt, mode)
    start = next(
        k
        for k, line in enumerate(prompt.splitlines())
        if line.startswith(("Respond", "Reply", "Bot", "ANSWER", "# Reply"))
    )
    for line in prompt.splitlines()[start:]:
        assert line.strip() in out, line
    report = check_fidelity(prompt, out.replace(prompt.splitlines()[-1].strip(), ""), mode)
    assert not report.ok  # the check sees the format's last line go


EXAMPLE_WITH_LEAD = """PEPE px 0.00001934 rsi 62.5
Output: a JSON list like
[{"coin": "PEPE", "do": "trim|add|exit|hold|enter", "usd": 1500, "limit": 0.00001950}]
Only the coins you act on. No commentary.
"""


def test_an_example_listing_choices_is_typed_in_emergency_and_keeps_its_lead_in() -> None:
    """`emergency` kept the bare example with `1500` and `0.00001950`, values a model copies."""
    out = compress_checked(EXAMPLE_WITH_LEAD, "emergency")
    assert "Output: a JSON list like" in out
    assert '"usd":int' in out
    assert '"limit":number' in out
    assert "No commentary." in out


@pytest.mark.parametrize(
    ("line", "facts"),
    [
        (
            "Spot reference prices: BTC $94,318.20 · ETH $3,101.45 · WIF $3.0412",
            {
                Fact("BTC", "price", "$94,318.20"),
                Fact("ETH", "price", "$3,101.45"),
                Fact("WIF", "price", "$3.0412"),
            },
        ),
        (
            "Exact marks: BTC 99,412.7 | ETH 3,991.06 | SOL 236.12",
            {
                Fact("BTC", "price", "99,412.7"),
                Fact("ETH", "price", "3,991.06"),
                Fact("SOL", "price", "236.12"),
            },
        ),
        (
            "RSI(4h): BTC 66 | ETH 77 | SOL 47",
            {Fact("BTC", "rsi", "66"), Fact("ETH", "rsi", "77"), Fact("SOL", "rsi", "47")},
        ),
    ],
)
def test_a_list_of_prices_separated_by_pipes_or_dots_states_each_price(line: str, facts: set[Fact]) -> None:
    """`emergency` dropped these lists whole (they were read as no fact, so the check did not see it)."""
    prompt = f'{line}\nRespond with JSON only: {{"signal": "buy|sell|hold"}}\n'
    assert required_facts(prompt) >= facts
    out = compress_checked(prompt, "emergency")
    assert line in out


PSQL = """trading=> SELECT symbol, last_price, rsi_14, trend, vol_24h FROM market_snapshot;
 symbol | last_price | rsi_14 |  trend   |   vol_24h
--------+------------+--------+----------+-------------
 AVAX   |      47.812|   69.4 | up       |   712,400,110
 BTC    |  97,004.150|   60.2 | up       | 41,882,907,221
(2 rows)
Respond with JSON only: {"signal": "buy|sell|hold"}
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_psql_output_is_a_table(mode: str) -> None:
    """`minimal`/`emergency` dropped the psql result whole, every price and RSI with it."""
    assert required_facts(PSQL) >= {Fact("AVAX", "price", "47.812"), Fact("BTC", "rsi", "60.2")}
    out = compress_checked(PSQL, mode)
    assert "BTC" in out
    assert "97,004.150" in out


GERMAN_POSITION = """BTC: Kurs 91.234,56 EUR, RSI 57,3, Trend aufwärts
POSITIONEN
BTC: Richtung long, Menge 0,150, Einstieg 88.420,00, Stop 86.900,00, Ziel 94.000,00, GuV +422,18
Antworte nur mit JSON: {"BTC": "kaufen|verkaufen|halten"}
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_german_position_keeps_its_target_and_pnl(mode: str) -> None:
    """`Ziel` (target) and `GuV` (P&L) were not position fields: minimal condensed them away."""
    assert required_facts(GERMAN_POSITION) >= {Fact("BTC", "tp", "94.000,00"), Fact("BTC", "pnl", "+422,18")}
    out = compress_checked(GERMAN_POSITION, mode)
    assert "94.000,00" in out
    assert "+422,18" in out


DCA = """DCA bot #7  SOL/USDT  long
  average entry: 134.62
  quantity: 4.8123
  take profit: 137.31
  stop loss: 121.16
OUTPUT FORMAT
{"action": "keep|add_safety|close"}
"""


def test_a_side_at_the_end_of_a_position_title_is_its_side() -> None:
    assert Fact("SOL", "side", "long") in required_facts(DCA)
    out = compress_checked(DCA, "minimal")
    assert "side=long" in out
    assert str(AdaptivePromptCompressor("gpt-4o").compress_by_context(out, "minimal")) == out


INI_LEGS = """[INVENTORY]
binance_USDT = 184,220.55
okx_ETH = 40.55

[OPEN_LEGS]
leg1 = ETH long 12.0 @ 2,438.90 on binance | SL 2,380.00 | TP 2,470.00

[ANSWER]
Reply with one line: <PAIR> <BUY_VENUE> <SELL_VENUE> <QTY>
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_an_ini_section_heading_stays_over_its_lines(mode: str) -> None:
    """`minimal` dropped `[OPEN_LEGS]` (read as a command: `open`), so the open leg read as inventory."""
    out = compress_checked(INI_LEGS, mode)
    assert "[OPEN_LEGS]\nleg1" in out.replace(" = ", "=").replace("leg1=", "leg1")


OPTION_BOOK = """Underlying index: BTC 97,215.40
## Book
Positions:
- BTC-27DEC24-100000-C: short 25 contracts @ 0.0280, mark 0.0251, P&L +0.0725 BTC
- BTC-27DEC24-95000-P: long 10 contracts @ 0.0240, mark 0.0226, P&L −0.0140 BTC
- BTC-PERPETUAL: long 0.80 BTC @ 95,112.0 (hedge), stop 91,500.0
## Response format
Respond with JSON: {"instrument": "BTC-PERPETUAL", "side": "buy|sell", "amount": 0.0}
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_positions_keyed_by_an_instrument_survive_every_mode(mode: str) -> None:
    """`minimal`/`emergency` dropped them as 'key/value lines without required facts'; with the
    default `verify=True` the perpetual's line (read as a position) made the call raise."""
    out = str(STRICT.compress_by_context(OPTION_BOOK, mode))
    for line in OPTION_BOOK.splitlines()[3:6]:
        assert line[2:] in out


CARRY = """BTC: price 94,318.20, RSI 51.0
Current carry positions:
#1 BTC — short perp Hyperliquid 0.60 BTC @ 93,950.0 / long spot 0.60 BTC @ 93,902.5 — funding earned so far $41.12
Respond with JSON only: {"signal": "buy|sell|hold"}
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_position_leg_written_as_a_side_and_a_fill_is_kept(mode: str) -> None:
    """No stop and no target named: the line was not taken for a position and `minimal` dropped it."""
    assert CARRY.splitlines()[2] in compress_checked(CARRY, mode)


YAML_DOCUMENT = """BTC/USDT last price: 58,933.21
OUTPUT FORMAT
One YAML document:
grids:
  A: {action: keep|pause|stop, new_range: "low-high or null"}
dca:
  "7": {action: keep|add_safety|close, new_stop: number or null}
comment: one sentence
"""


@pytest.mark.parametrize("mode", ["analysis", "standard"])
def test_every_top_level_key_of_a_yaml_answer_keeps_its_indentation(mode: str) -> None:
    """The template ended at `dca:`, and `  "7": {...}` lost its indentation (a nested key became a
    top-level one)."""
    out = compress_checked(YAML_DOCUMENT, mode)
    assert (
        'dca:\n  "7": {action: keep|add_safety|close, new_stop: number or null}\ncomment: one sentence' in out
    )


TABLE_REPLY = """BTC: price 99,412.7, RSI 66
Reply as a compact table, one row per symbol, columns exactly: sym | act | qty | stop | tp
act: long/short/add/trim/close/hold. Use "-" for empty cells. No other text.
"""


@pytest.mark.parametrize("mode", ["minimal", "emergency"])
def test_a_reply_that_says_its_columns_is_the_answer_format(mode: str) -> None:
    out = compress_checked(TABLE_REPLY, mode)
    assert "columns exactly: sym | act | qty | stop | tp" in out
    assert "act: long/short/add/trim/close/hold." in out


JESSE = """Jesse live status
 exchange: Binance Perpetual Futures | symbol: BTC-USDT | timeframe: 4h
 current price: 91230.5 | rsi: 61.2
 position: type=long qty=0.05 entry_price=90100.0 stop_loss=88900.0 take_profit=94000.0 pnl=+56.53
Respond with JSON only: {"action": "buy|sell|hold", "symbol": "string"}
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_jesse_status_keeps_its_side_symbol_and_price(mode: str) -> None:
    """(seventh pass) `type=long` is the side (standard condensed it away), and a line naming its symbol
    after another label (`exchange: ... | symbol: BTC-USDT`) is the symbol of the lines under it
    (emergency dropped the price and the RSI)."""
    assert required_facts(JESSE) >= {
        Fact("BTC", "price", "91230.5"),
        Fact("BTC", "rsi", "61.2"),
        Fact("position", "side", "long"),
    }
    out = compress_checked(JESSE, mode)
    assert "91230.5" in out
    assert "long" in out


def test_a_list_of_prices_may_name_the_price_after_the_symbol() -> None:
    """(seventh pass) OctoBot's `Current: BTC/USDT last 91230.5 | ETH/USDT last 3049.39` was read as no
    fact, so `emergency` dropped it."""
    prompt = 'Current: BTC/USDT last 91230.5 | ETH/USDT last 3049.39\nRespond with JSON only: {"action": "buy|sell"}\n'
    assert required_facts(prompt) >= {Fact("BTC", "price", "91230.5"), Fact("ETH", "price", "3049.39")}
    assert "ETH/USDT last 3049.39" in compress_checked(prompt, "emergency")


def test_the_check_sees_a_yaml_answer_lose_its_indentation() -> None:
    """The check compared lines with their whitespace collapsed, so a flattened YAML answer (a nested
    key made a top-level one) passed it."""
    out = compress_checked(YAML_DOCUMENT, "standard")
    flat = "\n".join(line.lstrip() for line in out.splitlines())
    report = check_fidelity(YAML_DOCUMENT, flat)
    assert not report.ok
    assert any("indentation" in m for m in report.missing_format)


MULTI_TF = (
    "Multi-timeframe view.\n"
    + "".join(
        f"{s}/USDT\n| TF | Close | RSI | Trend |\n|---|---|---|---|\n| 15m | {c} | {r} | up |\n| 1h | {c} | {r2} | up |\n"
        for s, c, r, r2 in [("BTC", "91,230.50", "61.2", "58.4"), ("ETH", "3,049.39", "47.7", "44.1")]
    )
    + 'Respond with JSON only: {"action": "buy|sell|hold"}\n'
)


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_a_table_per_symbol_with_a_row_per_timeframe_states_its_facts(mode: str) -> None:
    """(seventh pass) A `BTC/USDT` line over `| TF | Close | RSI | Trend |` rows: no fact was read, and
    `emergency` kept only the answer line. The line names the table's symbol; the first timeframe's row
    states the facts; every row is current (not history): kept in every mode."""
    assert required_facts(MULTI_TF) >= {Fact("BTC", "price", "91,230.50"), Fact("ETH", "rsi", "47.7")}
    out = compress_checked(MULTI_TF, mode)
    assert "58.4" in out  # the 1h row too
    assert "44.1" in out


PREDICTION = """You trade prediction markets on Polymarket.
Your positions:
  BTC>100k YES: 1,500 shares @ 0.31, unrealized +$60.00
  ETH>5k NO: 2,000 shares @ 0.90, unrealized -$60.00
Respond with JSON only: {"market": "string", "outcome": "YES|NO", "action": "buy|sell|hold", "shares": number}
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_shares_held_at_a_price_are_kept_as_positions(mode: str) -> None:
    """(seventh pass) `emergency` left only the `Your positions:` heading."""
    out = compress_checked(PREDICTION, mode)
    assert "BTC>100k YES: 1,500 shares @ 0.31, unrealized +$60.00" in out
    assert "ETH>5k NO: 2,000 shares @ 0.90, unrealized -$60.00" in out


def test_an_underlying_index_list_states_each_price() -> None:
    """`Underlying index: BTC 97,215.40 | ETH 3,702.88` (an options desk's reference prices) was read as
    no fact and dropped by `emergency`."""
    prompt = (
        'Underlying index: BTC 97,215.40 | ETH 3,702.88\nRespond with JSON only: {"action": "buy|sell"}\n'
    )
    assert required_facts(prompt) >= {Fact("BTC", "price", "97,215.40"), Fact("ETH", "price", "3,702.88")}
    assert "ETH 3,702.88" in compress_checked(prompt, "emergency")


STOCK_LINES = """TSLA indicators: VWAP 455.92 | RSI(14, 1m) 54.2 | trend up
AAPL last: 270.37 | RSI 61.8
Position: TSLA short 15 shares @ 468.20, stop 489.00, target 440.00, unrealized +$174.60
Respond with JSON only:
{"action": "hold|cover|add_short|buy", "qty": 0, "reason": "short text"}
"""

STOCK_JSON = """Current Prices:
{"AAPL": 270.37, "MSFT": 512.40}
Current Positions: {"AAPL": {"long": 40, "short": 0, "long_cost_basis": 231.85, "short_cost_basis": 0.0}}
Respond with JSON only: {"decisions": {"AAPL": {"action": "buy|sell|hold", "quantity": 0}}}
"""


@pytest.mark.parametrize("prompt", [STOCK_LINES, STOCK_JSON], ids=["lines", "ai-hedge-fund"])
@pytest.mark.parametrize("mode", EVERY_MODE)
def test_stock_tickers_are_learned_from_lines_with_words_and_from_price_maps(prompt: str, mode: str) -> None:
    """(eighth pass) `TSLA indicators: ... RSI(14, 1m) 54.2`, `AAPL last price 270.37` and a JSON map of
    prices keyed by stock tickers taught no ticker: no fact was read and `emergency` dropped the market
    data and the positions unseen."""
    facts = required_facts(prompt)
    if prompt is STOCK_LINES:
        assert {Fact("TSLA", "rsi", "54.2"), Fact("AAPL", "price", "270.37")} <= facts
        needed = ["54.2", "270.37", "468.20", "489.00"]
    else:
        assert Fact("AAPL", "price", "270.37") in facts
        needed = ["270.37", "512.40", "231.85"]
    out = compress_checked(prompt, mode)
    for value in needed:
        assert value in out


PLACEHOLDERS = """BTC: price 107478.3, rsi 50.7
Respond in this format:
DECISION: <BUY|HOLD|SELL>
SHARES: <integer>
STOP: <price>
REASONING: <three sentences max>
"""


def test_respond_in_this_format_heads_the_answer_format() -> None:
    """(eighth pass, TradingAgents) `Respond in this format:` was not an answer-format heading, so
    `emergency` kept only the first field."""
    out = compress_checked(PLACEHOLDERS, "emergency")
    for line in PLACEHOLDERS.splitlines()[1:]:
        assert line in out


ALLOWED_AFTER_EXAMPLE = """BTC/USDT last=107478.3 rsi14=50.66
Respond ONLY with valid JSON, no markdown, in this format:
{"actions": [{"symbol": "BTC/USDT", "action": "hold", "amount": 0, "stop_loss": 0, "take_profit": 0, "reason": ""}]}
action can be: "buy", "sell", "close", "hold", "move_sl".
"""


@pytest.mark.parametrize("mode", ["minimal", "emergency"])
def test_allowed_values_are_kept_wherever_they_stand(mode: str) -> None:
    """(eighth pass) The example's stop/target keys made the lines after it read as data, and the
    allowed values (`move_sl` named nowhere else) were dropped."""
    assert 'action can be: "buy", "sell", "close", "hold", "move_sl".' in compress_checked(
        ALLOWED_AFTER_EXAMPLE, mode
    )
    reaction = "Reaction Check: BTC up 2.1% while alts lag; ETH/BTC at 0.0330."  # not allowed values
    assert reaction not in compress_checked(f"Narrative\n{reaction}\n{ALLOWED_AFTER_EXAMPLE}", "emergency")


TABLE_FORMAT = """BTC: price 109870.40, rsi 50.7
## RESPONSE FORMAT
Answer with a markdown table:
| Ticker | Action | Qty |
|---|---|---|
| BTC | hold | 0 |
"""


@pytest.mark.parametrize("mode", EVERY_MODE)
def test_an_answer_format_table_does_not_make_the_check_fail_a_correct_output(mode: str) -> None:
    """With the default `verify=True`, every prompt whose answer format is a markdown table raised
    FidelityError in analysis/standard/lean: the table is written with `|-|` rules, and the check
    wanted the `|---|` rule line back as a format line (a rule line carries nothing)."""
    out = str(STRICT.compress_by_context(TABLE_FORMAT, mode))
    assert "BTC|hold|0" in out.replace(" ", "")


def test_an_output_heading_heads_the_answer_format() -> None:
    """(eighth pass) `# Output` / `## Expected Output:` were not answer-format headings: lean dropped the
    allowed values under the table, emergency cut an example's keys (`usd_amount`, `reason`)."""
    prompt = (
        "# Watchlist\nBTC: price 109870.40, rsi 50.7\n\n# Output\nAnswer with a markdown table:\n"
        "| Ticker | Action | Qty |\n|---|---|---|\n| BTC | hold | 0 |\nAction is one of buy, sell, short, cover, hold.\n"
    )
    assert "Action is one of buy, sell, short, cover, hold." in str(
        STRICT.compress_by_context(prompt, "lean")
    )
    crew = (
        "**Bitcoin (BTC)**: $107,478.30 (-0.84%), RSI 50.7\n## Expected Output:\n"
        'Example: [{"coin": "SOL", "side": "sell", "usd_amount": 25000, "reason": "..."}]\n'
    )
    out = compress_checked(crew, "emergency")
    assert "usd_amount" in out
    assert "reason" in out


SUMMARY = """MARKET SUMMARY
BTC is trading at $107,478.30, down 0.84% in 24h. RSI(14) is 50.7 and the trend is up.
ETH is trading at $3,793.02, down 1.92% in 24h. RSI(14) is 48.1 and the trend is sideways.
Respond with JSON only: {"BTC": {"signal": "buy|sell|hold"}}
"""


@pytest.mark.parametrize("mode", ["lean", "minimal", "emergency"])
def test_a_sentence_naming_no_symbol_is_about_the_one_named_before_it(mode: str) -> None:
    """(eighth pass) `RSI(14) is 50.7 and the trend is up.` after `BTC is trading at ...` was read as no
    fact and dropped: every coin's RSI and trend went."""
    assert Fact("BTC", "rsi", "50.7") in required_facts(SUMMARY)
    out = str(STRICT.compress_by_context(SUMMARY, mode))
    assert "RSI(14) is 50.7 and the trend is up." in out
    assert "RSI(14) is 48.1 and the trend is sideways." in out


ONE_RSI_PER_TIMEFRAME = """BTC 1h: close 91,230.50, rsi 52.1 | 4h: close 90,880.20, rsi 55.3 | 1d: close 89,912.70, rsi 58.9
ETH 1h: close 3,012.44, rsi 47.8 | 4h: close 3,020.10, rsi 49.2 | 1d: close 2,988.40, rsi 51.0
Respond with JSON only: {"BTC": {"signal": "buy|sell|hold"}}
"""


@pytest.mark.parametrize("mode", ["moderate", "lean"])
def test_one_rsi_per_timeframe_keeps_every_value_in_the_middle_levels(mode: str) -> None:
    """`lean` shortened the line as a series and wrote `rsi 4h: close 90,880.20` (the hourly RSI gone, the
    4h label now reading as the RSI's); with `verify=True` the call raised. Found by running every prompt
    of the test modules through every level with the self-check on."""
    out = str(STRICT.compress_by_context(ONE_RSI_PER_TIMEFRAME, mode))
    assert "rsi 52.1 | 4h: close 90,880.20, rsi 55.3" in out


def test_every_prompt_of_the_red_team_modules_passes_its_own_check_in_every_level() -> None:
    """The sweep that found the defect above, kept: no prompt of these modules may make a `verify=True`
    compression raise, at any of the seven levels."""
    import ast
    from pathlib import Path

    here = Path(__file__).parent
    prompts = [
        node.value
        for name in ("test_fourth_red_team.py", "test_fifth_red_team.py", "test_sixth_red_team.py")
        for node in ast.walk(ast.parse((here / name).read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.count("\n") >= 2
    ]
    assert len(prompts) > 40
    for prompt in prompts:
        for mode in ("lossless", "analysis", "moderate", "standard", "lean", "minimal", "emergency"):
            STRICT.compress_by_context(prompt, mode)
