"""AdaptivePromptCompressor: fewer prompt tokens, the same numbers, the required facts intact."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pytest_oxbot.compressor.levels import ANALYSIS, EMERGENCY, LEVELS, STANDARD
from pytest_oxbot.compressor.parse import Block, parse
from pytest_oxbot.compressor.reduce import Reducer
from pytest_oxbot.tokens import count_tokens, resolve

_CONTEXT_LEVELS = {"emergency": EMERGENCY, "analysis": ANALYSIS}


@dataclass(frozen=True, slots=True)
class CompressionResult:
    """A compressed prompt and what it cost to get there."""

    text: str
    original_tokens: int
    compressed_tokens: int
    mode: str
    level: str
    dropped: tuple[str, ...]
    elapsed_s: float
    model: str
    exact_tokens: bool
    budget: int | None = None

    @property
    def ratio(self) -> float:
        """compressed / original tokens (1.0 for an empty prompt)."""
        return self.compressed_tokens / self.original_tokens if self.original_tokens else 1.0

    @property
    def reduction(self) -> float:
        """Share of tokens saved, 0..1."""
        return 1.0 - self.ratio

    @property
    def budget_met(self) -> bool:
        return self.budget is None or self.compressed_tokens <= self.budget

    def __str__(self) -> str:
        return self.text


class AdaptivePromptCompressor:
    """Compresses any text prompt by dropping or shortening its lowest-priority parts first.

    Stateless and thread-safe; `model` only chooses the tokenizer the counts are made with.
    """

    def __init__(self, model: str = "gpt-4o") -> None:
        resolve(model)  # an unknown model fails here, not at the first call
        self.model = model

    def compress_by_context(self, prompt: str, context: str = "standard") -> CompressionResult:
        """`emergency`: price, RSI, trend per symbol plus open positions; `analysis`: moderate;
        anything else: standard."""
        started = time.perf_counter()
        level = _CONTEXT_LEVELS.get(context.strip().lower(), STANDARD)
        original = count_tokens(prompt, self.model)
        blocks = parse(prompt)
        text, notes = _render(blocks, level)
        return self._finish(prompt, original, text, notes, level, context, started, None)

    def compress(self, prompt: str, max_tokens: int) -> CompressionResult:
        """The least compressed rendering that fits `max_tokens` (the emergency one if none does)."""
        if max_tokens < 0:
            raise ValueError(f"max_tokens must be >= 0, got {max_tokens}")
        started = time.perf_counter()
        original = count_tokens(prompt, self.model)
        if original <= max_tokens:
            return self._finish(prompt, original, prompt, (), None, "budget", started, max_tokens)
        blocks = parse(prompt)
        best: tuple[str, tuple[str, ...], int] | None = None
        for level in range(len(LEVELS)):
            text, notes = _render(blocks, level)
            if count_tokens(text, self.model) <= max_tokens or level == len(LEVELS) - 1:
                best = (text, notes, level)
                break
        assert best is not None
        return self._finish(prompt, original, best[0], best[1], best[2], "budget", started, max_tokens)

    def _finish(
        self,
        prompt: str,
        original: int,
        text: str,
        notes: tuple[str, ...],
        level: int | None,
        mode: str,
        started: float,
        budget: int | None,
    ) -> CompressionResult:
        tokens = count_tokens(text, self.model) if text is not prompt else original
        if tokens > original:  # never hand back more than we were given
            text, tokens, notes, level = prompt, original, (), None
        return CompressionResult(
            text=text,
            original_tokens=original,
            compressed_tokens=tokens,
            mode=mode,
            level=LEVELS[level].name if level is not None else "unchanged",
            dropped=notes,
            elapsed_s=time.perf_counter() - started,
            model=self.model,
            exact_tokens=resolve(self.model).exact,
            budget=budget,
        )


def _render(blocks: list[Block], level: int) -> tuple[str, tuple[str, ...]]:
    reducer = Reducer(blocks, LEVELS[level])
    return reducer.render(), reducer.notes()
