"""Prompts on which hypothesis found a defect, kept as fixed regression cases (tests/compressor/found/).

Each is a generated corpus prompt with lines inserted by the property tests (test_properties.py); the
property each one broke is checked on it here, deterministically.
"""

from __future__ import annotations

from pathlib import Path

from pytest_oxbot.compressor import AdaptivePromptCompressor, changed_numbers

FOUND = Path(__file__).parent / "found"
COMPRESSOR = AdaptivePromptCompressor("gpt-4o")


def _prompt(name: str) -> str:
    return (FOUND / name).read_text(encoding="utf-8")


def test_emergency_rendering_is_settled_when_a_dropped_line_kept_records_apart() -> None:
    """One symbol's extra lines, dropped by `emergency`, blocked the pivot of the dashboard's records:
    compressing the result again pivoted them (451 tokens, then 410 at another level)."""
    prompt = _prompt("emergency_pivot_after_drop.txt")
    first = COMPRESSOR.compress(prompt, max_tokens=0)
    assert first.compressed_tokens == COMPRESSOR.compress_by_context(prompt, "emergency").compressed_tokens
    assert changed_numbers(prompt, first) == []
    assert COMPRESSOR.compress(first, max_tokens=0) == first


def test_analysis_rendering_is_idempotent_after_the_source_legend() -> None:
    """The legend of shortened source tags (`Sources: HY=HYPERLIQUID`) was placed inside the first
    symbol's record: compressing again read the records differently and merged lines kept apart."""
    prompt = _prompt("analysis_merge_after_legend.txt")
    first = COMPRESSOR.compress_by_context(prompt, "analysis")
    assert COMPRESSOR.compress_by_context(first, "analysis") == first
