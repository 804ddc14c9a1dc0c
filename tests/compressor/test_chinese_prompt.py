"""A prompt written in Chinese, in the style of the Chinese open-source nof1-like bots
(`chinese_prompt.txt`, written for these tests): labels, instruction words and the answer-format heading
in Chinese, the full-width colon `：` of Chinese text or the ASCII one.

Before, no fact was read from it (the labels were not labels), so `emergency` dropped the open position
and the "do not copy the example values" line while the check said fine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_oxbot.compressor.facts import Fact, required_facts
from pytest_oxbot.compressor.parse import Kind, is_instruction, parse

from .factcheck import EVERY_MODE, compress_checked

ASCII_COLONS = (Path(__file__).parent / "chinese_prompt.txt").read_text()
WIDE_COLONS = "\n".join(
    line if line.lstrip().startswith(("{", "[", "`")) else line.replace(": ", "：")
    for line in ASCII_COLONS.splitlines()
)
PROMPTS = {"ascii colons": ASCII_COLONS, "full-width colons": WIDE_COLONS}
MODES = EVERY_MODE
POSITION = ("BTCUSDT 多头", "0.05", "89,244.47", "86,979.38", "95,133.70", "+99.50")


@pytest.mark.parametrize("shape", PROMPTS)
def test_price_rsi_and_trend_are_read_from_chinese_labels(shape: str) -> None:
    facts = required_facts(PROMPTS[shape])
    assert {
        Fact("BTC", "price", "91234.56"),
        Fact("BTC", "rsi", "61.2"),
        Fact("BTC", "trend", "上涨"),
        Fact("ETH", "price", "3012.78"),
        Fact("ETH", "trend", "震荡"),
    } <= facts
    assert not any(f.kind == "price" and f.value in ("+2.31%", "89,244.47") for f in facts)  # 涨跌, 入场价


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", PROMPTS)
def test_every_mode_keeps_the_position_the_facts_and_the_contract(shape: str, mode: str) -> None:
    out = compress_checked(PROMPTS[shape], mode)
    position = next(ln for ln in out.splitlines() if "多头" in ln)
    assert all(part in position for part in POSITION)
    for value in ("91234.56", "61.2", "3012.78", "44.8"):
        assert value in out
    assert "不要复制示例中的数值" in out  # "do not copy the example values"
    for key in ("symbol", "action", "stop_loss", "take_profit", "confidence", "reasoning"):
        assert f'"{key}"' in out


@pytest.mark.parametrize("mode", ["lossless", "analysis", "standard"])
def test_the_hard_constraints_are_instructions_kept_whole(mode: str) -> None:
    out = compress_checked(ASCII_COLONS, mode)
    assert "风险回报比：必须 ≥ 1:3" in out


def test_the_steps_of_the_answer_are_kept_in_emergency() -> None:
    out = compress_checked(WIDE_COLONS, "emergency")
    assert "第一步：思维链（纯文本）" in out
    assert "第二步：JSON决策数组" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("必须使用你自己的分析。", True),  # must
        ("不要在下跌趋势中做多。", True),  # do not
        ("禁止使用超过10倍杠杆", True),  # forbidden
        ("務必設定止損。", True),  # traditional: be sure to
        ("最大化夏普比率。", False),  # a goal, not an instruction word
        ("比特币今天上涨了。", False),
    ],
)
def test_chinese_instruction_words(text: str, expected: bool) -> None:
    assert is_instruction(text) is expected


def test_the_output_format_heading_opens_the_answer_format() -> None:
    doc = parse(ASCII_COLONS)
    heading = next(b for b in doc.blocks if b.kind is Kind.HEADING and "输出格式" in b.text)
    assert heading.fmt
    assert "action" in doc.answer_keys
