"""The result is a `str`; contexts pick modes as the seed's substrings do; user control and the report."""

from __future__ import annotations

import pickle

import pytest

from pytest_oxbot.compressor import (
    AdaptivePromptCompressor,
    CompressionResult,
    CompressorUsageError,
    FidelityError,
)
from pytest_oxbot.compressor.engine import AdaptivePromptCompressor as Engine
from pytest_oxbot.errors import CompressorError
from pytest_oxbot.tokens import count_tokens

COMPRESSOR = AdaptivePromptCompressor("gpt-4o")
PROMPT = (
    "### ALL BTC DATA\n\ncurrent_price = 100.5, current_rsi = 55.1, current_macd = 1.25\n\nMid prices: ["
    + ", ".join(str(i) for i in range(1, 40))
    + "]\n\n---\n\n### RULES\n- Never risk more than 2% per trade.\n"
)


def test_the_result_drops_into_code_that_expects_a_str() -> None:
    prompt = COMPRESSOR.compress_by_context(PROMPT, "standard")
    assert isinstance(prompt, str)
    assert len(prompt) == len(prompt.text) < len(PROMPT)
    assert "current_price=100.5" in prompt
    assert (prompt + "\nAnswer now.").endswith("Answer now.")
    assert ("System: " + prompt).startswith("System: ### ALL BTC DATA")
    assert f"{prompt}" == prompt.text
    assert prompt.encode() == prompt.text.encode()
    assert prompt.splitlines()[0] == "### ALL BTC DATA"
    assert type(prompt.text) is str
    assert prompt.compressed_tokens == count_tokens(prompt, "gpt-4o")
    assert prompt.original_tokens == count_tokens(PROMPT, "gpt-4o")
    assert prompt.reduction == pytest.approx(1 - prompt.ratio)
    assert prompt.level == "standard"
    assert prompt.mode == "standard"
    assert prompt.fidelity is not None
    assert prompt.fidelity.ok


def test_the_result_is_immutable_and_pickles() -> None:
    prompt = COMPRESSOR.compress_by_context(PROMPT, "standard")
    with pytest.raises(AttributeError):
        prompt.compressed_tokens = 1
    again = pickle.loads(pickle.dumps(prompt))
    assert again == prompt
    assert again.compressed_tokens == prompt.compressed_tokens
    assert again.dropped == prompt.dropped
    assert "tokens" in repr(prompt)
    with pytest.raises(TypeError, match="unknown"):
        CompressionResult("x", nonsense=1)


@pytest.mark.parametrize(
    ("context", "level"),
    [
        ("emergency_exit", "emergency"),
        ("EMERGENCY", "emergency"),
        ("market_analysis", "analysis"),
        ("deep analysis of BTC", "analysis"),
        ("standard", "standard"),
        ("regular_cycle", "standard"),
        ("", "standard"),
        ("lean", "lean"),
        ("minimal", "minimal"),
    ],
)
def test_any_context_string_picks_a_mode(context: str, level: str) -> None:
    assert COMPRESSOR.compress_by_context(PROMPT, context).level == level


def test_dropped_report_is_line_by_line() -> None:
    prompt = COMPRESSOR.compress_by_context(PROMPT, "standard")
    lines = PROMPT.splitlines()
    by_line = {d.line: d for d in prompt.dropped}
    series = by_line[5]
    assert series.text == lines[4]
    assert "series" in series.reason
    assert series.kept == "Mid prices: [37,38,39]"
    assert by_line[7].reason == "separator line"
    assert [d.line for d in prompt.dropped] == sorted(d.line for d in prompt.dropped)
    assert "line 5" in prompt.report()
    assert any("series shortened" in s for s in prompt.summary)


def test_nothing_to_drop_returns_the_prompt_unchanged() -> None:
    prompt = "Answer HOLD."
    result = COMPRESSOR.compress_by_context(prompt, "standard")
    assert result == prompt
    assert result.level == "unchanged"
    assert result.dropped == ()


def test_keep_markers_protect_a_span_and_are_removed() -> None:
    prompt = (
        "### BTC\nPrice: 1.5\n\n<keep>Mid prices: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
        "Narrative line one. Narrative line two without data.</keep>\n\n"
        "Other prose here. More prose without data.\n"
    )
    for mode in ("standard", "emergency"):
        result = COMPRESSOR.compress_by_context(prompt, mode)
        assert "Mid prices: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" in result
        assert "Narrative line two without data." in result
        assert "<keep>" not in result
        assert "</keep>" not in result
        assert "More prose without data." not in result


def test_protect_patterns_keep_matching_lines() -> None:
    prompt = (
        "### BTC\nPrice: 1.5\nMid prices: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nNote one. Note two without data.\n"
    )
    keeper = AdaptivePromptCompressor(protect=[r"^Mid prices", "Note one"])
    result = keeper.compress_by_context(prompt, "emergency")
    assert "Mid prices: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" in result
    assert "Note one. Note two without data." in result


def test_budget_mode() -> None:
    fits = COMPRESSOR.compress(PROMPT, max_tokens=10_000)
    assert fits == PROMPT
    assert fits.level == "unchanged"
    assert fits.budget_met
    tight = COMPRESSOR.compress(PROMPT, max_tokens=60)
    assert tight.budget == 60
    assert tight.budget_met == (tight.compressed_tokens <= 60)
    assert tight.level not in ("unchanged", "lossless")


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True])
def test_bad_budgets_are_usage_errors(bad: object) -> None:
    with pytest.raises(CompressorUsageError, match="max_tokens"):
        COMPRESSOR.compress(PROMPT, max_tokens=bad)  # type: ignore[arg-type]
    assert issubclass(CompressorUsageError, CompressorError)
    assert issubclass(CompressorUsageError, ValueError)


def test_bad_inputs_are_usage_errors() -> None:
    with pytest.raises(CompressorUsageError, match="prompt must be a str"):
        COMPRESSOR.compress_by_context(b"bytes", "standard")  # type: ignore[arg-type]
    with pytest.raises(CompressorUsageError, match="context must be a str"):
        COMPRESSOR.compress_by_context("x", None)  # type: ignore[arg-type]
    with pytest.raises(CompressorUsageError, match="protect"):
        AdaptivePromptCompressor(protect=["("])
    with pytest.raises(CompressorUsageError, match="on_violation"):
        AdaptivePromptCompressor(on_violation="ignore")  # type: ignore[arg-type]


class _Breaking(Engine):
    """A compressor whose renderer rewrites a number: the built-in check must catch it."""

    def _render(self, doc, level, static):  # type: ignore[no-untyped-def]
        text, reducer = super()._render(doc, level, static)
        return text.replace("100.5", "100.50"), reducer


def test_a_broken_guarantee_raises_when_verifying() -> None:
    with pytest.raises(FidelityError, match=r"100\.50") as info:
        _Breaking(verify=True).compress_by_context(PROMPT, "standard")
    assert info.value.report.changed_numbers == ("100.50",)


def test_a_broken_guarantee_can_fall_back_to_the_original() -> None:
    result = _Breaking(verify=True, on_violation="original").compress_by_context(PROMPT, "standard")
    assert result == PROMPT
    assert result.level == "unchanged"
    assert result.fidelity is not None
    assert result.fidelity.changed_numbers == ("100.50",)


def test_verification_can_be_switched_off() -> None:
    result = _Breaking(verify=False).compress_by_context(PROMPT, "standard")
    assert "100.50" in result
    assert result.fidelity is None


def test_on_result_sees_every_result() -> None:
    seen: list[CompressionResult] = []
    compressor = AdaptivePromptCompressor(on_result=seen.append)
    a = compressor.compress_by_context(PROMPT, "emergency")
    b = compressor.compress(PROMPT, max_tokens=10_000)
    assert seen == [a, b]
    assert seen[0].level == "emergency"
