"""Prompts in shapes we did not write: facts are found, and no mode or budget loses one.

The checks search the output with string work (`factcheck`), not the compressor's parser: each case
says which values it planted under which symbol.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_oxbot.compressor import (
    LEVELS,
    AdaptivePromptCompressor,
    CompressionResult,
    Fact,
    changed_numbers,
    check_fidelity,
    required_facts,
)

from .corpus import COINS, prose_report
from .factcheck import has_number, numbers_kept_as_written, owned_by
from .foreign import FOREIGN_SHAPES, ISSUE_FACTS, ISSUE_SAMPLE, Foreign, demo_lines, foreign_corpus

COMPRESSOR = AdaptivePromptCompressor("gpt-4o")
MODES = [level.name for level in LEVELS]
CASES = foreign_corpus(range(3))
IDS = [f"{c.shape}-{i % 3}" for i, c in enumerate(CASES)]
# tickers and the coin names a prompt may use instead
OWNERS = {sym: {sym, name} | ({"Ether"} if sym == "ETH" else set()) for sym, name, _ in COINS}
NAMES = sorted({n for names in OWNERS.values() for n in names})
# OXBOT_HYPOTHESIS_EXAMPLES raises the budget for a deeper local hunt
EXAMPLES = int(os.environ.get("OXBOT_HYPOTHESIS_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_safe(prompt: str, facts: list[tuple[str, str, str]], keys: tuple[str, ...], out: str) -> None:
    """Non-empty; every planted fact's value as written, under its symbol; answer keys; fidelity ok."""
    assert out.strip(), "empty output"
    assert changed_numbers(prompt, out) == []
    assert numbers_kept_as_written(prompt, out) == []
    for sym, kind, value in facts:
        if kind in ("price", "rsi", "qty", "entry", "sl", "tp"):
            assert has_number(out, value), f"{sym} {kind} {value} lost"
        assert owned_by(out, NAMES, value) & OWNERS[sym], f"{sym} {kind} {value} not under {sym}"
    for key in keys:
        assert key in out, f"answer key {key!r} lost"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_planted_facts_are_required(case: Foreign) -> None:
    found = required_facts(case.prompt)
    missing = [f for f in case.facts if Fact(*f) not in found]
    assert missing == []


def test_the_issue_sample_states_its_facts() -> None:
    found = required_facts(ISSUE_SAMPLE)
    assert {Fact(*f) for f in ISSUE_FACTS} <= found


@pytest.mark.parametrize("mode", MODES)
def test_the_issue_sample_keeps_every_fact_in_every_mode(mode: str) -> None:
    out = COMPRESSOR.compress_by_context(ISSUE_SAMPLE, mode)
    assert_safe(ISSUE_SAMPLE, ISSUE_FACTS, ("signal", "confidence"), out)
    assert check_fidelity(ISSUE_SAMPLE, out, out.level).ok


@pytest.mark.parametrize("budget", [0, 10, 30, 60, 100, 1000])
def test_the_issue_sample_keeps_every_fact_at_any_budget(budget: int) -> None:
    out = COMPRESSOR.compress(ISSUE_SAMPLE, budget)
    assert_safe(ISSUE_SAMPLE, ISSUE_FACTS, ("signal", "confidence"), out)
    assert out.budget_met == (out.compressed_tokens <= budget)


def test_a_vanished_fact_is_a_defect() -> None:
    without_btc = ISSUE_SAMPLE.replace("BTC: price 89225.34, rsi 55.2, trend up, volume 1234.5\n", "")
    report = check_fidelity(ISSUE_SAMPLE, without_btc, "emergency")
    assert not report.ok
    assert Fact("BTC", "price", "89225.34") in report.missing_facts
    shortened = ISSUE_SAMPLE.replace("price 142.07", "price=142.07").replace("price=142.07 ", "")
    assert Fact("SOL", "price", "142.07") in check_fidelity(ISSUE_SAMPLE, shortened).missing_facts


def test_the_demo_bot_prompt_under_a_small_budget_keeps_its_prices() -> None:
    case = demo_lines(0)
    for budget in (0, 150, 300):
        out = COMPRESSOR.compress(case.prompt, budget)
        assert_safe(case.prompt, case.facts, case.answer_keys, out)


def test_standard_shrinks_the_demo_bot_prompt() -> None:
    case = demo_lines(1)
    out = COMPRESSOR.compress_by_context(case.prompt, "standard")
    assert out.compressed_tokens < out.original_tokens
    assert_safe(case.prompt, case.facts, case.answer_keys, out)


@pytest.mark.parametrize("prompt", ["hello world", "Think step by step about the market today.", "x"])
def test_never_an_empty_output(prompt: str) -> None:
    for mode in MODES:
        assert COMPRESSOR.compress_by_context(prompt, mode).strip()
    out = COMPRESSOR.compress(prompt, 0)
    assert out.strip()
    assert not out.budget_met


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_keeps_the_planted_facts(case: Foreign, mode: str) -> None:
    out = COMPRESSOR.compress_by_context(case.prompt, mode)
    assert_safe(case.prompt, case.facts, case.answer_keys, out)
    assert check_fidelity(case.prompt, out, out.level).ok


@SETTINGS
@given(
    st.sampled_from(sorted(FOREIGN_SHAPES)),
    st.integers(0, 10_000),
    st.one_of(st.sampled_from(MODES), st.integers(0, 3000)),
)
def test_any_shape_any_mode_any_budget(shape: str, seed: int, how: str | int) -> None:
    case = FOREIGN_SHAPES[shape](seed)
    out: CompressionResult
    if isinstance(how, int):
        out = COMPRESSOR.compress(case.prompt, how)
        emergency = COMPRESSOR.compress_by_context(case.prompt, "emergency")
        assert out.budget_met or out.compressed_tokens <= emergency.compressed_tokens
    else:
        out = COMPRESSOR.compress_by_context(case.prompt, how)
    assert_safe(case.prompt, case.facts, case.answer_keys, out)
    assert check_fidelity(case.prompt, out, out.level).ok
    if isinstance(how, str):  # idempotent: the output compressed again at its level is itself
        assert COMPRESSOR.compress_by_context(out, how) == out


@pytest.mark.parametrize("mode", ["analysis", "standard"])
def test_a_list_then_labelled_lines_compresses_idempotently(mode: str) -> None:
    """The blank line after a list ends a record; the output keeps it, so a second pass reads the
    same records (it used to pivot the list into the next symbol's row)."""
    example = "- Example: +0.000% move @ 0.000x leverage = $1,000.00 notional (100–101)"
    prompt = prose_report(0).prompt.replace("SOL\n\n", f"SOL\n\n{example}\n\n", 1)
    first = COMPRESSOR.compress_by_context(prompt, mode)
    assert COMPRESSOR.compress_by_context(first, mode) == first
    assert example in first


REPEATED_INSTRUCTION = """ALWAYS size above 2% risk.

DASHBOARD
ADA

Price Structure [CHARTS]: trading at 0.45581; 4H range 0.44898–0.46128.
Net Funding [HYPERLIQUID]: +0.0125%.
Momentum [MARKET_DATA]: RSI(14) 78.6, trend bearish.
BTC

ALWAYS size above 2% risk.

Price Structure [CHARTS]: trading at 82,012.65; 4H range 80,782–82,997.
Net Funding [HYPERLIQUID]: -0.0107%.
Momentum [MARKET_DATA]: RSI(14) 70.8, trend neutral.
SOL

Price Structure [CHARTS]: trading at 144.36; 4H range 142–146.
Net Funding [HYPERLIQUID]: -0.0042%.
Momentum [MARKET_DATA]: RSI(14) 41.4, trend bearish.

### FVG Analysis (SOL/USDT)
No unmitigated FVGs detected.

ALWAYS size above 2% risk.

### FVG Analysis (XRP/USDT)
No unmitigated FVGs detected.

RESPONSE FORMAT
Respond with JSON only: {"BTC": {"signal": "hold|buy|sell", "confidence": 0.0}}
"""


@pytest.mark.parametrize("mode", ["standard", "analysis", "minimal", "emergency"])
def test_a_repeated_instruction_inside_a_record_does_not_break_idempotence(mode: str) -> None:
    """Found by hypothesis: the repeated line kept a record (or a section) apart in the first pass and was
    dropped, so a second pass pivoted (or merged) what the first kept. It now goes before anything else."""
    compressor = AdaptivePromptCompressor("gpt-4o")
    first = compressor.compress_by_context(REPEATED_INSTRUCTION, mode)
    assert compressor.compress_by_context(first, mode) == first
    if mode in ("standard", "analysis"):  # the levels that keep every instruction keep it once
        assert str(first).count("ALWAYS size above 2% risk.") == 1
        repeated = [d for d in first.dropped if d.reason.startswith("duplicate of line")]
        assert sorted(d.line for d in repeated) == [11, 25]  # numbered as in the original prompt
