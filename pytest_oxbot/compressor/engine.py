"""AdaptivePromptCompressor: fewer prompt tokens; the same numbers, facts, instructions and answer format.

`compress_by_context(prompt, ctx)` returns a `CompressionResult`, which IS a `str` (the compressed
prompt), so `prompt = compressor.compress_by_context(prompt, ctx)` drops into existing code; it also
carries the token counts, the level, and a line-by-line report of what was dropped.

Every call checks its own output against the input (numbers as written, required facts, instructions,
the answer format, protected spans) when `verify` is on, which it is by default whenever Python runs with
assertions (`__debug__`, i.e. not `python -O`): a broken guarantee raises `FidelityError` (or, with
`on_violation="original"`, returns the uncompressed prompt with the report attached).
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from hashlib import blake2b
from typing import Any, Literal

from pytest_oxbot.compressor.facts import FidelityError, FidelityReport, check_against, prompt_facts
from pytest_oxbot.compressor.levels import LEVEL_BY_NAME, LEVELS, level_for_context
from pytest_oxbot.compressor.parse import Doc, compile_patterns, parse
from pytest_oxbot.compressor.reduce import Dropped, Reducer
from pytest_oxbot.compressor.text import learn_symbols, norm, prompt_symbols
from pytest_oxbot.errors import CompressorError
from pytest_oxbot.tokens import count_tokens, resolve

__all__ = ["AdaptivePromptCompressor", "CompressionResult", "CompressorUsageError"]

Patterns = Iterable[str | re.Pattern[str]]
_LINE_REF = re.compile(r" (?:of|into|at) line \d+")


# From this level on, a rendering that dropped lines is rendered once more (see `_render`): the mild
# levels keep every record line, and the standard mode's CPU is gated in instructions.
RESHAPE_AGAIN_FROM = LEVEL_BY_NAME["lean"]


class CompressorUsageError(CompressorError, ValueError):
    """A bad argument to the compressor (the message names it)."""


class CompressionResult(str):
    """The compressed prompt, usable anywhere a `str` is (`len()`, `in`, `+`, f-strings, `.encode()`),
    carrying what it cost and what it dropped."""

    original_tokens: int
    compressed_tokens: int
    mode: str
    level: str
    dropped: tuple[Dropped, ...]
    notes: tuple[tuple[str, int], ...]
    elapsed_s: float
    model: str
    exact_tokens: bool
    budget: int | None
    fidelity: FidelityReport | None

    def __new__(cls, text: str = "", **fields: Any) -> CompressionResult:
        self = super().__new__(cls, text)
        defaults: dict[str, Any] = {
            "original_tokens": 0,
            "compressed_tokens": 0,
            "mode": "",
            "level": "unchanged",
            "dropped": (),
            "notes": (),
            "elapsed_s": 0.0,
            "model": "",
            "exact_tokens": True,
            "budget": None,
            "fidelity": None,
        }
        unknown = set(fields) - set(defaults)
        if unknown:
            raise TypeError(f"unknown CompressionResult fields: {sorted(unknown)}")
        self.__dict__.update(defaults | fields)
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("CompressionResult is immutable")

    def __reduce__(self) -> tuple[Callable[..., CompressionResult], tuple[str], dict[str, Any]]:
        return (_rebuild, (str(self),), dict(self.__dict__))

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return (
            f"CompressionResult({str.__repr__(self)}, tokens {self.original_tokens}->"
            f"{self.compressed_tokens}, level={self.level!r})"
        )

    @property
    def text(self) -> str:
        """The compressed prompt as a plain `str`."""
        return str.__str__(self)

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

    @property
    def summary(self) -> tuple[str, ...]:
        """What went and what was reshaped, counted by reason (`"series shortened ... x42"`)."""
        counts: dict[str, int] = dict(self.notes)
        for d in self.dropped:
            reason = _LINE_REF.sub("", d.reason)
            counts[reason] = counts.get(reason, 0) + 1
        return tuple(f"{what} x{n}" for what, n in sorted(counts.items()))

    def report(self) -> str:
        """What went, line by line, for a human."""
        head = (
            f"{self.level}: {self.original_tokens} -> {self.compressed_tokens} tokens "
            f"({self.reduction:.1%} fewer), {len(self.dropped)} lines lost content"
        )
        return "\n".join([head, *(f"  {d}" for d in self.dropped)])


def _rebuild(text: str) -> CompressionResult:
    return CompressionResult(text)


class AdaptivePromptCompressor:
    """Compresses any text prompt by dropping or shortening its lowest-priority parts first.

    Thread-safe; stateless unless `learn_static=True`. `model` only chooses the tokenizer the counts are
    made with. User control:

    - `protect`: regexes; a matching line is kept verbatim (as is anything between `<keep>` and
      `</keep>` in the prompt; the markers are removed from the output);
    - `instructions`: regexes of lines that are instructions in your prompts (besides MUST, NEVER, DO NOT,
      ALWAYS, IMPORTANT, MANDATORY, REQUIRED, imperative verbs and RULES-like sections);
    - `static_sections`: headings (regexes, matched against the heading text) of sections that read the
      same every cycle; they move first so a provider's prompt cache can reuse the prefix. Nothing is
      reordered otherwise, unless `learn_static=True` and a section's text was identical in the previous
      prompt of the same template (same headings).
    """

    def __init__(
        self,
        model: str = "gpt-4o",
        *,
        protect: Patterns = (),
        instructions: Patterns = (),
        static_sections: Patterns = (),
        learn_static: bool = False,
        verify: bool | None = None,
        on_violation: Literal["raise", "original"] = "raise",
        on_result: Callable[[CompressionResult], None] | None = None,
    ) -> None:
        resolve(model)  # an unknown model fails here, not at the first call
        if on_violation not in ("raise", "original"):
            raise CompressorUsageError(f"on_violation must be 'raise' or 'original', got {on_violation!r}")
        self.model = model
        self.protect = _patterns(protect, "protect")
        self.instructions = _patterns(instructions, "instructions")
        self.static_sections = _patterns(static_sections, "static_sections")
        self.learn_static = learn_static
        self.verify = __debug__ if verify is None else verify
        self.on_violation = on_violation
        self.on_result = on_result
        self._history: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    # -- entry points --------------------------------------------------------------------------
    def compress_by_context(self, prompt: str, context: str = "standard") -> CompressionResult:
        """Compress at the rung `context` picks: a level name, or any string containing "emergency"
        (`emergency_exit`) or "analysis" (`market_analysis`); anything else is standard."""
        started = time.perf_counter()
        _check_prompt(prompt)
        if not isinstance(context, str):
            raise CompressorUsageError(f"context must be a str, got {type(context).__name__}")
        level = level_for_context(context)
        original = count_tokens(prompt, self.model)
        return self._guarded(
            prompt,
            original,
            context,
            started,
            None,
            lambda: self._by_level(prompt, original, level, context, started),
        )

    def _by_level(
        self, prompt: str, original: int, level: int, context: str, started: float
    ) -> CompressionResult:
        doc = self._parse(prompt)
        static = self._static(doc)
        text, reducer = self._render(doc, level, static)
        while not text.strip() and level > 0 and prompt.strip():  # never empty: the next milder rung
            level -= 1
            text, reducer = self._render(doc, level, static)
        return self._finish(prompt, doc, original, text, reducer, level, context, started, None)

    def compress(self, prompt: str, max_tokens: int) -> CompressionResult:
        """The least compressed rendering that fits `max_tokens` (the emergency one if none does)."""
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
            raise CompressorUsageError(f"max_tokens must be an int >= 0, got {max_tokens!r}")
        started = time.perf_counter()
        _check_prompt(prompt)
        original = count_tokens(prompt, self.model)
        if original <= max_tokens:
            return self._finish(prompt, None, original, prompt, None, None, "budget", started, max_tokens)
        return self._guarded(
            prompt,
            original,
            "budget",
            started,
            max_tokens,
            lambda: self._fit(prompt, original, max_tokens, started),
        )

    def _fit(self, prompt: str, original: int, max_tokens: int, started: float) -> CompressionResult:
        doc = self._parse(prompt)
        static = self._static(doc)
        # The first rung that fits; when none does, the smallest one (budget_met says so). An empty
        # rendering is never a candidate: it would "fit" by losing everything.
        smallest: tuple[int, str, Reducer, int] | None = None
        for level in range(len(LEVELS)):
            text, reducer = self._render(doc, level, static)
            if not text.strip():
                continue
            tokens = count_tokens(text, self.model)
            if tokens <= max_tokens:
                return self._finish(
                    prompt, doc, original, text, reducer, level, "budget", started, max_tokens
                )
            if smallest is None or tokens <= smallest[0]:
                smallest = (tokens, text, reducer, level)
        if smallest is None:  # every rung was empty: the prompt itself is the smallest safe text
            return self._finish(prompt, None, original, prompt, None, None, "budget", started, max_tokens)
        _, text, reducer, level = smallest
        return self._finish(prompt, doc, original, text, reducer, level, "budget", started, max_tokens)

    # -- internals -----------------------------------------------------------------------------
    def _guarded(
        self,
        prompt: str,
        original: int,
        mode: str,
        started: float,
        budget: int | None,
        work: Callable[[], CompressionResult],
    ) -> CompressionResult:
        """`work` with the prompt's own tickers known; on data nested deeper than Python follows, the
        prompt as it came (never an exception in a bot's cycle, never a loss)."""
        try:
            with prompt_symbols(learn_symbols(prompt)):
                return work()
        except RecursionError:
            return self._finish(prompt, None, original, prompt, None, None, mode, started, budget)

    def _parse(self, prompt: str, like: Doc | None = None) -> Doc:
        """`like`: a parse of the prompt this text comes from, whose classified lines are reused (a
        prompt with repeated instruction lines is parsed again without them)."""
        return parse(prompt, self.protect, self.instructions, {} if like is None else like.seen)

    def _render(
        self, doc: Doc, level: int, static: tuple[tuple[re.Pattern[str], ...], frozenset[str]]
    ) -> tuple[str, Reducer]:
        text, reducer = self._render_once(doc, level, static)
        if level < RESHAPE_AGAIN_FROM or not reducer.dropped or not text.strip():
            return text, reducer
        # What an aggressive level drops (one symbol's extra lines) may have kept records apart: its
        # output, compressed again, would pivot or merge them, so compressing a result twice would
        # change it (found by hypothesis: 451 tokens, then 410). One more pass over the output settles
        # it, taken only when it reshapes (drops nothing), is smaller, and keeps every fact.
        again = Reducer(self._parse(text, doc), LEVELS[level], self._count, static[0], static[1])
        reshaped = again.render()
        if again.dropped or reshaped == text or not reshaped.strip():
            return text, reducer
        if self._count(reshaped) >= self._count(text):
            return text, reducer
        if not check_against(prompt_facts(doc), reshaped, LEVELS[level].name).ok:
            return text, reducer
        return reshaped, reducer

    def _render_once(
        self, doc: Doc, level: int, static: tuple[tuple[re.Pattern[str], ...], frozenset[str]]
    ) -> tuple[str, Reducer]:
        reducer = Reducer(doc, LEVELS[level], self._count, static[0], static[1])
        repeated = reducer.duplicate_lines()
        if not repeated:
            return reducer.render(), reducer
        # Repeated instruction lines go before anything else is decided: a line that is dropped must
        # not keep records apart or sections different, or compressing the output again would pivot
        # or merge what this pass kept (idempotence). So render the prompt without them, and report
        # every line under its number in the original.
        kept = [i for i in range(len(doc.lines)) if i not in repeated]
        pruned = self._parse("\n".join(doc.lines[i] for i in kept), doc)
        second = Reducer(pruned, LEVELS[level], self._count, static[0], static[1])
        text = second.render()
        second.dropped = [
            *(Dropped(line + 1, doc.lines[line].strip(), why) for line, why in repeated.items()),
            *(replace(d, line=kept[d.line - 1] + 1) for d in second.dropped),
        ]
        return text, second

    def _count(self, text: str) -> int:
        return count_tokens(text, self.model)

    def _static(self, doc: Doc) -> tuple[tuple[re.Pattern[str], ...], frozenset[str]]:
        if not self.learn_static:
            return self.static_sections, frozenset()
        return self.static_sections, self._proven_static(doc)

    def _proven_static(self, doc: Doc) -> frozenset[str]:
        """Top-level sections whose text is identical to the previous prompt of the same template."""
        blocks = doc.blocks
        heads = doc.headings
        if not heads:
            return frozenset()
        top = min(blocks[h].rank for h in heads)
        spans: dict[str, str] = {}
        tops = [h for h in heads if blocks[h].rank == top]
        for n, h in enumerate(tops):
            end = tops[n + 1] if n + 1 < len(tops) else len(blocks)
            first, last = blocks[h].line, (blocks[end].line if end < len(blocks) else len(doc.lines))
            body = "\n".join(doc.lines[first:last])
            spans[blocks[h].label] = blake2b(norm(body).encode(), digest_size=12).hexdigest()
        template = blake2b(
            "\n".join(re.sub(r"\d+", "#", label) for label in spans).encode(), digest_size=12
        ).hexdigest()
        with self._lock:
            previous = self._history.pop(template, None)
            self._history[template] = spans
            while len(self._history) > 64:
                self._history.popitem(last=False)
        if previous is None:
            return frozenset()
        return frozenset(label for label, digest in spans.items() if previous.get(label) == digest)

    def _finish(
        self,
        prompt: str,
        doc: Doc | None,
        original: int,
        text: str,
        reducer: Reducer | None,
        level: int | None,
        mode: str,
        started: float,
        budget: int | None,
    ) -> CompressionResult:
        tokens = count_tokens(text, self.model) if text is not prompt else original
        dropped = tuple(sorted(reducer.dropped, key=lambda d: d.line)) if reducer else ()
        notes = tuple(reducer.notes.items()) if reducer else ()
        fidelity: FidelityReport | None = None
        if tokens > original or (reducer is not None and not reducer.dropped and text == prompt):
            text, tokens, dropped, notes, level = prompt, original, (), (), None
        elif self.verify and doc is not None and level is not None:
            fidelity = check_against(prompt_facts(doc), text, LEVELS[level].name)
            if not fidelity.ok:
                if self.on_violation == "raise":
                    raise FidelityError(fidelity)
                text, tokens, dropped, notes, level = prompt, original, (), (), None
        result = CompressionResult(
            text,
            original_tokens=original,
            compressed_tokens=tokens,
            mode=mode,
            level=LEVELS[level].name if level is not None else "unchanged",
            dropped=dropped,
            notes=notes,
            elapsed_s=time.perf_counter() - started,
            model=self.model,
            exact_tokens=resolve(self.model).exact,
            budget=budget,
            fidelity=fidelity,
        )
        if self.on_result is not None:
            self.on_result(result)
        return result


def _check_prompt(prompt: object) -> None:
    if not isinstance(prompt, str):
        raise CompressorUsageError(f"prompt must be a str, got {type(prompt).__name__}")


def _patterns(patterns: Patterns, name: str) -> tuple[re.Pattern[str], ...]:
    if isinstance(patterns, str | re.Pattern):
        patterns = [patterns]
    try:
        return compile_patterns(patterns)
    except (re.error, TypeError) as exc:
        raise CompressorUsageError(f"{name}: not a regular expression: {exc}") from None
