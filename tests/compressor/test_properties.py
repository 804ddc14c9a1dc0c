"""Property tests of every compressor guarantee, on generated prompts of many shapes."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_oxbot.compressor import AdaptivePromptCompressor, changed_numbers, check_fidelity
from pytest_oxbot.tokens import count_tokens

from .factcheck import has_number, position_line_present, segment
from .prompts import Planted, trading_prompts

MODES = ["analysis", "standard", "emergency"]
COMPRESSOR = AdaptivePromptCompressor("gpt-4o")
# OXBOT_HYPOTHESIS_EXAMPLES raises the budget for a deeper local hunt; CI keeps the suite fast.
EXAMPLES = int(os.environ.get("OXBOT_HYPOTHESIS_EXAMPLES", "120"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_planted_facts_survive(text: str, planted: Planted) -> None:
    headings = [h for _, h, *_ in planted.sections] + ["### OPEN POSITIONS"]
    for i, (sym, heading, price, rsi, trend) in enumerate(planted.sections):
        part = segment(text, heading, headings[i + 1 :])
        assert part is not None, f"{sym}: section heading {heading!r} lost"
        assert has_number(part, price), f"{sym}: price {price} lost"
        assert has_number(part, rsi), f"{sym}: RSI {rsi} lost"
        assert trend in part, f"{sym}: trend {trend} lost"
    for sym, sl, tp in planted.positions:
        assert position_line_present(text, sym, sl, tp), f"{sym}: position SL {sl} / TP {tp} lost"


@SETTINGS
@given(trading_prompts(), st.sampled_from(MODES))
def test_modes_keep_numbers_and_required_facts(case: tuple[str, Planted], mode: str) -> None:
    prompt, planted = case
    result = COMPRESSOR.compress_by_context(prompt, mode)
    assert changed_numbers(prompt, result.text) == []
    assert_planted_facts_survive(result.text, planted)
    assert check_fidelity(prompt, result.text).missing_facts == ()


@SETTINGS
@given(trading_prompts(), st.sampled_from(MODES))
def test_modes_are_deterministic_idempotent_and_never_grow(case: tuple[str, Planted], mode: str) -> None:
    prompt, _ = case
    first = COMPRESSOR.compress_by_context(prompt, mode)
    assert COMPRESSOR.compress_by_context(prompt, mode).text == first.text
    assert first.compressed_tokens <= first.original_tokens
    assert first.compressed_tokens == count_tokens(first.text, "gpt-4o")
    assert first.original_tokens == count_tokens(prompt, "gpt-4o")
    again = COMPRESSOR.compress_by_context(first.text, mode)
    assert again.text == first.text


@SETTINGS
@given(trading_prompts(), st.integers(min_value=0, max_value=3000))
def test_budget_is_met_whenever_the_emergency_rendering_fits(case: tuple[str, Planted], budget: int) -> None:
    prompt, planted = case
    result = COMPRESSOR.compress(prompt, max_tokens=budget)
    floor = COMPRESSOR.compress_by_context(prompt, "emergency").compressed_tokens
    assert result.compressed_tokens <= result.original_tokens
    if floor <= budget:
        assert result.budget_met
        assert result.compressed_tokens <= budget
    else:
        assert not result.budget_met
        assert result.compressed_tokens == floor
    assert changed_numbers(prompt, result.text) == []
    assert_planted_facts_survive(result.text, planted)
    assert COMPRESSOR.compress(result.text, max_tokens=budget).text == result.text


@SETTINGS
@given(trading_prompts())
def test_levels_are_ordered_by_size(case: tuple[str, Planted]) -> None:
    prompt, _ = case
    sizes = [COMPRESSOR.compress_by_context(prompt, m).compressed_tokens for m in MODES]
    assert sizes[0] >= sizes[1] >= sizes[2]


@SETTINGS
@given(trading_prompts())
def test_static_sections_come_first(case: tuple[str, Planted]) -> None:
    prompt, planted = case
    if "## Rules" not in prompt or not planted.sections:
        return
    text = COMPRESSOR.compress_by_context(prompt, "standard").text
    first_symbol = min(text.find(h) for _, h, *_ in planted.sections)
    assert 0 <= text.find("## Rules") < first_symbol


@pytest.mark.parametrize("mode", MODES)
def test_result_reports_what_was_dropped(mode: str) -> None:
    prompt = (
        "### ALL BTC DATA\n\ncurrent_price = 100.5, current_rsi = 55.1\n\nMid prices: ["
        + ", ".join(str(i) for i in range(1, 40))
        + "]\n\n---\n"
    )
    result = COMPRESSOR.compress_by_context(prompt, mode)
    assert result.dropped
    assert any("series" in d for d in result.dropped)
    assert 0 < result.ratio < 1
    assert result.reduction == pytest.approx(1 - result.ratio)
    assert result.elapsed_s >= 0
    assert result.mode == mode


def test_unknown_context_is_standard() -> None:
    prompt = "### ALL BTC DATA\n\nMid prices: [" + ", ".join(str(i) for i in range(1, 40)) + "]\n"
    assert (
        COMPRESSOR.compress_by_context(prompt, "whatever").text
        == COMPRESSOR.compress_by_context(prompt, "standard").text
    )


def test_budget_that_already_fits_returns_the_prompt_untouched() -> None:
    prompt = "### BTC\n\nprice: 1.50\n"
    result = COMPRESSOR.compress(prompt, max_tokens=1000)
    assert result.text == prompt
    assert result.dropped == ()
    assert result.level == "unchanged"


def test_negative_budget_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        COMPRESSOR.compress("x", max_tokens=-1)
