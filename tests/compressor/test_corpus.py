"""Every guarantee on the corpus: five prompt shapes other bots use, in every mode.

The checks are independent of the compressor's parser (see `factcheck`): each prompt says what it
planted (market facts, positions, instructions, the answer contract) and the output is searched for it
with plain string work.
"""

from __future__ import annotations

import dataclasses

import pytest

from pytest_oxbot.compressor import AdaptivePromptCompressor, changed_numbers, check_fidelity, numbers_in
from pytest_oxbot.tokens import count_tokens

from .corpus import COINS, SHAPES, Case, corpus
from .factcheck import in_order, line_kept, numbers_kept_as_written, owned_by, position_kept, squash

COMPRESSOR = AdaptivePromptCompressor("gpt-4o")
CASES = corpus(range(4))
IDS = [f"{c.shape}-{i % 4}" for i, c in enumerate(CASES)]
SYMBOLS = [s for s, _, _ in COINS]
MODES = ["analysis", "standard", "emergency"]


def assert_guarantees(case: Case, text: str, mode: str) -> None:
    prompt = case.prompt
    assert changed_numbers(prompt, text) == [], "a number was rewritten"
    assert numbers_kept_as_written(prompt, text) == [], "a number was rewritten (independent scan)"
    for sym, kind, value in case.market:
        if mode == "emergency" or kind != "trend":
            assert sym in owned_by(text, SYMBOLS, value), f"{sym} {kind} {value} lost or moved"
    for pos in case.positions:
        fields = {k: v for k, v in dataclasses.asdict(pos).items()}
        assert position_kept(text, SYMBOLS, fields) == []
    if mode != "emergency":
        for line in case.instructions:
            assert line_kept(text, line), f"instruction lost: {line!r}"
        for line in case.format_lines:
            assert line_kept(text, line), f"answer-format line lost: {line!r}"
        for line in case.traps:
            assert line_kept(text, line), f"line lost: {line!r}"
        assert in_order(text, case.order), "sections were reordered"
    for key in case.answer_keys:
        assert key in text, f"answer key {key!r} lost"
    for line in case.allowed_values + case.dont_copy:
        assert line_kept(text, line), f"answer contract lost: {line!r}"
    if mode == "emergency":
        flat = squash(text)
        for number in case.example_numbers:
            assert number not in flat, f"example value {number} kept in emergency"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_guarantee_in_every_mode(case: Case, mode: str) -> None:
    result = COMPRESSOR.compress_by_context(case.prompt, mode)
    assert_guarantees(case, result, mode)
    assert check_fidelity(case.prompt, result, result.level).ok
    assert result.compressed_tokens == count_tokens(result, "gpt-4o") < result.original_tokens


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_deterministic_and_idempotent(case: Case, mode: str) -> None:
    first = COMPRESSOR.compress_by_context(case.prompt, mode)
    assert COMPRESSOR.compress_by_context(case.prompt, mode) == first
    again = COMPRESSOR.compress_by_context(first, mode)
    assert again == first


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_levels_are_ordered_by_size(case: Case) -> None:
    sizes = [COMPRESSOR.compress_by_context(case.prompt, m).compressed_tokens for m in MODES]
    assert sizes[0] >= sizes[1] >= sizes[2]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dropped_report_names_real_lines(case: Case) -> None:
    lines = case.prompt.splitlines()
    for mode in MODES:
        result = COMPRESSOR.compress_by_context(case.prompt, mode)
        assert result.dropped, "every mode of these prompts drops something"
        for d in result.dropped:
            assert lines[d.line - 1].strip() == d.text
            assert d.reason
            if d.kept is not None:  # what the report says was kept is there (numbers as written)
                assert all(n in numbers_in(result) for n in numbers_in(d.kept))


def test_corpus_has_five_shapes_with_instructions_positions_and_answer_format() -> None:
    assert len(SHAPES) >= 5
    for case in corpus(range(1)):
        assert case.instructions
        assert case.positions
        assert case.answer_keys
        assert case.dont_copy
        assert case.format_lines
        assert case.allowed_values
