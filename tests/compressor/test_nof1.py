"""Every guarantee on the 12 real nof1 prompts, per mode and under random token budgets."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.compressor import AdaptivePromptCompressor, changed_numbers, check_fidelity
from pytest_oxbot.tokens import count_tokens

from .factcheck import has_number, position_line_present, segment
from .nof1 import nof1_facts, nof1_prompts

COMPRESSOR = AdaptivePromptCompressor("gpt-4o")
PROMPTS = nof1_prompts()
IDS = [f"{i}-{model}" for i, (model, _) in enumerate(PROMPTS)]


def assert_nof1_facts(original: str, compressed: str) -> None:
    coins, positions = nof1_facts(original)
    assert len(coins) == 6, "the regexes no longer read the sample"
    assert positions
    headings = [f"### ALL {sym} DATA" for sym, _, _ in coins] + [
        "### HERE IS YOUR ACCOUNT INFORMATION & PERFORMANCE"
    ]
    for i, (sym, price, rsi) in enumerate(coins):
        part = segment(compressed, headings[i], headings[i + 1 :])
        assert part is not None, f"{sym} section lost"
        assert has_number(part, price), f"{sym} price {price} lost"
        assert has_number(part, rsi), f"{sym} RSI {rsi} lost"
    for sym, sl, tp in positions:
        assert position_line_present(compressed, sym, sl, tp), f"{sym} position SL/TP lost"


@pytest.mark.parametrize("mode", ["analysis", "standard", "emergency"])
@pytest.mark.parametrize("prompt", [p for _, p in PROMPTS], ids=IDS)
def test_real_prompts_keep_every_guarantee(prompt: str, mode: str) -> None:
    result = COMPRESSOR.compress_by_context(prompt, mode)
    assert changed_numbers(prompt, result.text) == []
    assert_nof1_facts(prompt, result.text)
    assert check_fidelity(prompt, result.text).ok
    assert result.original_tokens == count_tokens(prompt, "gpt-4o")
    assert result.compressed_tokens == count_tokens(result.text, "gpt-4o") < result.original_tokens
    assert COMPRESSOR.compress_by_context(prompt, mode).text == result.text
    assert COMPRESSOR.compress_by_context(result.text, mode).text == result.text


@pytest.mark.parametrize("prompt", [p for _, p in PROMPTS], ids=IDS)
def test_standard_mode_halves_real_prompts(prompt: str) -> None:
    result = COMPRESSOR.compress_by_context(prompt, "standard")
    assert result.reduction >= 0.50, result.dropped


def test_emergency_keeps_only_the_minimum() -> None:
    prompt = PROMPTS[0][1]
    text = COMPRESSOR.compress_by_context(prompt, "emergency").text
    assert "current_ema20" not in text
    assert "Mid prices" not in text
    assert "Sharpe" not in text
    assert "current_price=" in text
    assert "current_rsi (7 period)=" in text
    assert "sl_oid" not in text
    assert "sl=" in text
    assert "tp=" in text


def test_positions_lose_bookkeeping_not_exit_plans() -> None:
    text = COMPRESSOR.compress_by_context(PROMPTS[0][1], "standard").text
    assert "entry_oid" not in text
    assert "wait_for_fill" not in text
    assert "invalidation='4-hour price closes below the 50-period EMA.'" in text


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=len(PROMPTS) - 1), st.integers(min_value=50, max_value=6000))
def test_real_prompts_meet_any_reachable_budget(index: int, budget: int) -> None:
    prompt = PROMPTS[index][1]
    result = COMPRESSOR.compress(prompt, max_tokens=budget)
    floor = COMPRESSOR.compress_by_context(prompt, "emergency").compressed_tokens
    assert result.compressed_tokens <= max(budget, floor)
    assert result.budget_met == (result.compressed_tokens <= budget)
    assert changed_numbers(prompt, result.text) == []
    assert_nof1_facts(prompt, result.text)
    assert COMPRESSOR.compress(result.text, max_tokens=budget).text == result.text


def test_budget_names_what_it_dropped() -> None:
    result = COMPRESSOR.compress(PROMPTS[0][1], max_tokens=1500)
    assert result.budget_met
    assert result.dropped
    assert result.level not in ("unchanged", "lossless")


@settings(max_examples=int(os.environ.get("OXBOT_HYPOTHESIS_EXAMPLES", "60")), deadline=None)
@given(
    st.integers(min_value=0, max_value=len(PROMPTS) - 1),
    st.sets(st.integers(min_value=0, max_value=300), max_size=60),
    st.sampled_from(["analysis", "standard", "emergency"]),
)
def test_real_prompts_with_lines_removed_keep_every_guarantee(index: int, gone: set[int], mode: str) -> None:
    """Real prompts with random lines deleted: shapes the compressor has not seen in this order."""
    lines = PROMPTS[index][1].splitlines()
    prompt = "\n".join(ln for i, ln in enumerate(lines) if i not in gone)
    result = COMPRESSOR.compress_by_context(prompt, mode)
    assert changed_numbers(prompt, result.text) == []
    assert check_fidelity(prompt, result.text).missing_facts == ()
    assert result.compressed_tokens <= result.original_tokens
    assert COMPRESSOR.compress_by_context(prompt, mode).text == result.text
    assert COMPRESSOR.compress_by_context(result.text, mode).text == result.text
