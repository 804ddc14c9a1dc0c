"""Hostile and degenerate prompts: data nested past Python's recursion limit and shapes that made a
regex or a pass quadratic. A bot compresses text it did not write (tool answers, scraped news); such a
prompt must come back whole, never as an exception in the bot's decision cycle. (Speed on them is
measured in instructions in `benchmarks/test_compressor.py`, never timed here.)
"""

from __future__ import annotations

import pytest

from pytest_oxbot.compressor import AdaptivePromptCompressor, check_fidelity, required_facts
from pytest_oxbot.compressor.parse import Block, Kind, classify_line, parse

from .factcheck import EVERY_MODE

MARKET = "## Market\nBTC: price 91,230.50, RSI 52.1, trend up\n"
ANSWER = 'Respond with JSON only: {"BTC": "hold|buy|sell"}\n'


def _nested(depth: int, opening: str = "[", closing: str = "]") -> str:
    return opening * depth + "1.5" + closing * depth


DEEP = {
    # past the JSON decoder's limit: `RecursionError` escaped compress_by_context
    "array past the decoder's limit": f"Observation: {_nested(5000)}\n",
    # within the decoder's limit but past what the passes that walk JSON can recurse through
    "array the decoder reads": f"Observation: {_nested(900)}\n",
    "object the decoder reads": "Observation: " + '{"a": ' * 900 + "1.5" + "}" * 900 + "\n",
    "typed template": 'Respond: {"signal": string, "x": ' + "[" * 900 + "number" + "]" * 900 + "}\n",
    "bullets in bullets": "- " * 3000 + "BTC price 1\n",
}


@pytest.mark.parametrize("mode", EVERY_MODE)
@pytest.mark.parametrize("name", DEEP)
def test_deeply_nested_data_never_raises(name: str, mode: str) -> None:
    prompt = MARKET + DEEP[name] + ANSWER
    result = AdaptivePromptCompressor(model="gpt-4o").compress_by_context(prompt, mode)
    assert check_fidelity(prompt, result, result.level).ok
    assert "91,230.50" in result


@pytest.mark.parametrize("name", DEEP)
def test_the_exported_check_reads_deeply_nested_data(name: str) -> None:
    prompt = MARKET + DEEP[name] + ANSWER
    assert check_fidelity(prompt, prompt).ok
    assert any(f.value == "91,230.50" for f in required_facts(prompt))


def test_json_deeper_than_the_limit_is_text_not_data() -> None:
    shallow = parse(f"{_nested(60)}\n").blocks[0]
    deep = parse(f"{_nested(70)}\n").blocks[0]
    assert shallow.kind is Kind.JSON
    assert deep.kind is not Kind.JSON


def _levels(block: Block) -> int:
    levels = 0
    while block.inner is not None:
        block, levels = block.inner, levels + 1
    return levels


def test_bullet_markers_are_read_to_a_few_levels() -> None:
    nested = classify_line("- - BTC: price 1")
    assert _levels(nested) == 2
    assert nested.inner is not None
    assert nested.inner.core.kind is Kind.KV
    assert 2 < _levels(classify_line("- " * 100 + "x")) < 10  # read to a few levels, no deeper


def test_a_line_of_nested_objects_is_read_in_one_pass() -> None:
    """`{"a": {"a": ...` with no answer key in it: the inline-answer regex searched from every brace
    (3,000 braces took 3.4 s); from the first one it reads the line once."""
    prompt = MARKET + "Data: " + '{"a": ' * 3000 + "1" + "}" * 3000 + "\n" + ANSWER
    assert "91,230.50" in AdaptivePromptCompressor(model="gpt-4o").compress_by_context(prompt, "standard")
