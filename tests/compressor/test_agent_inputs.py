"""A portfolio-manager prompt of a multi-agent bot (`agent_prompt.txt`, written for these tests in the
style of open-source agent bots): other agents' signals handed in as JSON, prices as a JSON map under
a label, and the answer template last.

Before, `emergency` took the agents' signals for the answer example (they have `signal` keys) and
replaced their confidences by `int`, and dropped the `Current Prices:` map (no fact was read from it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_oxbot.compressor import check_fidelity
from pytest_oxbot.compressor.facts import Fact, required_facts
from pytest_oxbot.compressor.parse import Kind, parse

from .factcheck import EVERY_MODE, compress_checked

PROMPT = (Path(__file__).parent / "agent_prompt.txt").read_text()
MODES = EVERY_MODE
SIGNALS = PROMPT.split("signals by ticker:\n", 1)[1].split("\n", 1)[0]


def test_the_price_map_under_its_label_states_each_price() -> None:
    facts = required_facts(PROMPT)
    assert {Fact("BTC", "price", "91234.56"), Fact("ETH", "price", "3012.78")} <= facts


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_keeps_the_prices_with_their_label(mode: str) -> None:
    out = compress_checked(PROMPT, mode)
    assert "Current Prices:" in out
    assert re.search(r'"BTC":\s?91234\.56', out)
    assert re.search(r'"ETH":\s?3012\.78', out)


@pytest.mark.parametrize("mode", MODES)
def test_the_agents_signals_are_data_never_typed(mode: str) -> None:
    out = compress_checked(PROMPT, mode)
    assert '"confidence":int' not in out.replace(" ", "")
    if "technical_analyst_agent" in out:  # kept: as it was given
        kept = json.loads(next(ln for ln in out.splitlines() if "technical_analyst_agent" in ln))
        assert kept == json.loads(SIGNALS)


@pytest.mark.parametrize("mode", MODES)
def test_the_answer_template_keeps_its_keys(mode: str) -> None:
    out = compress_checked(PROMPT, mode)
    template = out[out.index("Output strictly in JSON") :]
    for key in ("decisions", "action", "quantity", "confidence", "reasoning", "buy/sell/short/cover/hold"):
        assert key in template


def test_the_signals_are_not_answer_keys_the_template_is() -> None:
    doc = parse(PROMPT)
    signals = next(b for b in doc.blocks if b.kind is Kind.JSON and "technical_analyst_agent" in b.text)
    assert not signals.fmt
    assert "action" in doc.answer_keys


@pytest.mark.parametrize(
    "before",
    [
        "Example answer:",  # an answer cue on the line before it
        "Respond like this:",
    ],
)
def test_a_signal_json_after_an_answer_cue_stays_the_answer_example(before: str) -> None:
    answer = '{"BTC": {"signal": "buy", "confidence": 0.7}}'
    prompt = f"BTC price: 91000.5\n\n{before}\n{answer}\n\n## Output format\nJSON.\n"
    doc = parse(prompt)
    example = next(b for b in doc.blocks if b.kind is Kind.JSON)
    assert example.fmt


def test_a_signal_json_with_no_answer_format_after_it_stays_the_answer_example() -> None:
    """No later answer format to carry the contract: taking this for data could lose it, so it is not."""
    prompt = 'BTC price: 91000.5\nDecide now.\n{"BTC": {"signal": "buy", "confidence": 0.7}}\n'
    example = next(b for b in parse(prompt).blocks if b.kind is Kind.JSON)
    assert example.fmt
    assert "0.7" not in compress_checked(prompt, "emergency")  # typed, as an example is


def test_a_template_with_placeholders_before_the_format_heading_stays_an_example() -> None:
    prompt = (
        'Schema of one decision:\n{"symbol": "BTC", "signal": "buy|sell|hold", "confidence": "number"}\n\n'
        "Market: BTC price 91000.5\n\n## RESPONSE FORMAT\nJSON list of decisions.\n"
    )
    assert next(b for b in parse(prompt).blocks if b.kind is Kind.JSON).fmt


def test_a_map_without_a_label_naming_a_fact_states_values_of_no_known_kind() -> None:
    """Not a price (the label names none), but per-symbol data all the same: kept, never pruned."""
    prompt = 'Maximum Shares Allowed:\n{"BTC": 0.35, "ETH": 4.2}\n\nAnswer in JSON.\n'
    assert {(f.symbol, f.kind, f.value) for f in required_facts(prompt)} == {
        ("BTC", "value", "0.35"),
        ("ETH", "value", "4.2"),
    }


REACT_OBSERVATION = """Thought: I need the latest prices before deciding.
Action: get_prices
Action Input: {"symbols": ["BTCUSDT", "ETHUSDT"]}
Observation: {"BTCUSDT": 90603.52, "ETHUSDT": 3052.18}
Thought: Now I know the prices.

Decide for each symbol. Final Answer: {"BTCUSDT": "hold|buy|sell", "ETHUSDT": "hold|buy|sell"}
Do not copy the example values.
"""


@pytest.mark.parametrize("mode", MODES)
def test_a_tools_symbol_map_survives_every_mode(mode: str) -> None:
    """A ReAct `Observation:` of symbols to numbers, no label saying what they are: `emergency` dropped it
    ("JSON block without market facts") and the model had no price at all; the check did not see it."""
    out = compress_checked(REACT_OBSERVATION, mode)
    assert re.search(r'"BTCUSDT": ?90603\.52', out)
    assert re.search(r'"ETHUSDT": ?3052\.18', out)


def test_losing_a_tools_symbol_map_is_caught_by_the_check() -> None:
    without = REACT_OBSERVATION.replace('Observation: {"BTCUSDT": 90603.52, "ETHUSDT": 3052.18}\n', "")
    report = check_fidelity(REACT_OBSERVATION, without, "emergency")
    assert Fact("BTC", "value", "90603.52") in report.missing_facts


def test_a_map_of_symbols_to_words_states_no_value() -> None:
    """Only numbers are values: a map of symbols to words is an answer or a signal, read elsewhere."""
    assert not any(
        f.kind == "value" for f in required_facts('Signals:\n{"BTC": "bullish", "ETH": "bearish"}\n')
    )
