# ruff: noqa: E501 (prompt lines are written as a bot writes them)
"""Shapes found by a red-team pass with prompts in the style of other bots (a multi-analyst report, a
Japanese prompt, an XML prompt, a ReAct scratchpad, a grid bot, a market-making YAML answer). Each was a
silent loss in `minimal`/`emergency` (the check did not read the shape either) or an answer format
rewritten in `standard`; each test below failed before.
"""

from __future__ import annotations

import pytest

from pytest_oxbot.compressor.facts import Fact, required_facts
from pytest_oxbot.compressor.parse import Kind, parse

from .factcheck import EVERY_MODE, compress_checked

MODES = EVERY_MODE

WRAPPED_PROSE_POSITION = """BTC is trading at 96,418.20.

CURRENT PORTFOLIO
We are long 0.35 BTC from an average entry of 93,150.00. The stop loss is at 91,900.00 and the take
profit at 101,500.00. Unrealized P&L is +1,143.69 USD.

OUTPUT FORMAT
Respond with JSON only: {"action": "BUY|SELL|HOLD", "stop_loss": 92500.0}
Do not copy the example numbers.
"""

JAPANESE_POSITIONS = """現在、BTC/JPYを0.08 BTCロングで保有しています。建値は14,920,000円、損切りは14,650,000円、利確目標は16,000,000円で、
含み損益は+37,136円です。
また、XRP/JPYを12,000 XRPショートで保有しています。建値は356.40円、損切りは364.00円、利確目標は320.00円で、"""

XML = """<market>
  <asset symbol="BTC">
    <price>114,392.7</price>
    <rsi>39.4</rsi>
    <trend>bearish</trend>
  </asset>
</market>
<positions>
  <position symbol="BTC" side="short">
    <quantity>0.25</quantity>
    <entry_price>116,050.0</entry_price>
    <stop_loss>117,900.0</stop_loss>
    <take_profit>110,500.0</take_profit>
  </position>
</positions>
<output_format>
<decision>
  <action symbol="BTC" type="hold" quantity="0" stop_loss="117900.0" take_profit="110500.0"/>
</decision>
type must be one of: open_long, open_short, close, move_stop, hold.
Do not copy the example values above.
</output_format>
"""

REACT = """Observation: {"symbol": "BTCUSDT", "rsi_14": 44.18, "trend": "bearish"}
Thought:

Final Answer: {"symbol": "BTCUSDT", "decision": "open_long", "stop_loss": 2440.0}
"decision" is one of: open_long, open_short, close, amend, hold.
Do not copy the example values.
"""

GRID = """## Market
BNB-USDT: last 612.4 | RSI(14, 1h) 38.9 | trend: down | 24h range 598.1-641.7
LINK-USDT: last 19.872 | RSI(14, 1h) 55.6 | trend: sideways | 24h range 19.05-20.44

## Answer
Respond with JSON only: [{"pair": "BNB-USDT", "action": "keep"}]
Allowed "action": keep | shift | stop.
"""

YAML_ANSWER = """Mid price BTC-USDT: 66,182.35

Output format (YAML, nothing else):
markets:
  BTC-USDT:
    bid_spread: 0.06
    ask_spread: 0.05
  ETH-USDT:
    bid_spread: 0.05
    ask_spread: 0.07
Do not copy the numbers.
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_position_in_prose_wrapped_over_lines_is_kept_whole(mode: str) -> None:
    out = compress_checked(WRAPPED_PROSE_POSITION, mode)
    for value in ("0.35", "93,150.00", "91,900.00", "101,500.00", "+1,143.69"):
        assert value in out


@pytest.mark.parametrize("mode", MODES)
def test_a_japanese_sentence_is_not_a_title_and_its_positions_stay(mode: str) -> None:
    assert parse(JAPANESE_POSITIONS).blocks[0].kind is not Kind.HEADING  # CJK has no capitals
    out = compress_checked(JAPANESE_POSITIONS, mode)
    for value in ("0.08", "14,920,000", "14,650,000", "16,000,000", "+37,136", "356.40", "364.00", "320.00"):
        assert value in out


def test_xml_elements_state_facts_and_the_answer_example_is_not_a_position() -> None:
    facts = required_facts(XML)
    assert {
        Fact("BTC", "price", "114,392.7"),
        Fact("BTC", "rsi", "39.4"),
        Fact("BTC", "trend", "bearish"),
        Fact("BTC", "sl", "117,900.0"),
        Fact("BTC", "tp", "110,500.0"),
    } <= facts
    assert Fact("BTC", "sl", "117900.0") not in facts  # the answer example's value


@pytest.mark.parametrize("mode", MODES)
def test_xml_keeps_the_data_and_the_answer_example_as_written(mode: str) -> None:
    out = compress_checked(XML, mode)
    for value in ("114,392.7", "39.4", "bearish", "0.25", "116,050.0", "117,900.0", "110,500.0"):
        assert value in out
    assert '<action symbol="BTC" type="hold"' in out
    assert "open_long, open_short, close, move_stop, hold" in out


def test_xml_sections_nest_and_close() -> None:
    doc = parse(XML)
    by_text = {b.text: b for b in doc.blocks}
    assert by_text[
        '<action symbol="BTC" type="hold" quantity="0" stop_loss="117900.0" take_profit="110500.0"/>'
    ].fmt
    assert not by_text["<stop_loss>117,900.0</stop_loss>"].fmt
    assert by_text["</output_format>"].fmt


@pytest.mark.parametrize("mode", ["minimal", "emergency"])
def test_allowed_values_of_an_answer_key_are_kept(mode: str) -> None:
    assert "open_long, open_short, close, amend, hold" in compress_checked(REACT, mode)


@pytest.mark.parametrize("mode", MODES)
def test_an_entity_line_with_a_labelled_value_inside_keeps_all_its_values(mode: str) -> None:
    """(`RSI(14, 1h)` has a comma in its label: its value is kept, but not read as the RSI fact.)"""
    assert {Fact("BNB", "price", "612.4"), Fact("LINK", "price", "19.872")} <= required_facts(GRID)
    out = compress_checked(GRID, mode)
    for value in ("612.4", "38.9", "19.872", "55.6"):
        assert value in out


@pytest.mark.parametrize("mode", MODES)
def test_a_yaml_answer_under_its_format_heading_keeps_its_shape(mode: str) -> None:
    out = compress_checked(YAML_ANSWER, mode)
    assert "markets:\n  BTC-USDT:\n    bid_spread: " in out
    assert "\n  ETH-USDT:\n    bid_spread: " in out
    if mode in ("lossless", "analysis", "standard"):
        assert "  BTC-USDT:\n    bid_spread: 0.06\n    ask_spread: 0.05" in out
