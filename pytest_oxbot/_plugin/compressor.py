"""pytest wiring for the prompt compressor: the `oxbot_compressor` fixture and its option.

The fixture hands a ready `AdaptivePromptCompressor` that remembers what it compressed. At teardown,
if the test compressed anything, it reports the `prompt_tokens` KPI: the LARGEST compressed prompt
of the test (the KPI is an upper bound on what is sent per decision, so the worst prompt is the one
that must meet it), with every compressed count as samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING

import pytest

from pytest_oxbot._plugin.kpi_sink import report
from pytest_oxbot.tokens import UnknownModelError, resolve

# The compressor is imported by the fixture, not by every pytest run (`tokens` is cheap: its tokenizer
# is loaded on first use).
if TYPE_CHECKING:
    from pytest_oxbot.compressor.engine import AdaptivePromptCompressor, CompressionResult

DEFAULT_MODEL = "gpt-4o"


@cache
def recording_compressor_class() -> type[AdaptivePromptCompressor]:
    """`RecordingCompressor`, an AdaptivePromptCompressor that keeps every result for the KPI report at
    teardown; built on first use so the compressor is only imported by tests that request it."""
    from pytest_oxbot.compressor.engine import AdaptivePromptCompressor

    class RecordingCompressor(AdaptivePromptCompressor):
        """An AdaptivePromptCompressor that keeps every result, for the KPI report at teardown."""

        def __init__(self, model: str = DEFAULT_MODEL) -> None:
            super().__init__(model)
            self.results: list[CompressionResult] = []

        def compress_by_context(self, prompt: str, context: str = "standard") -> CompressionResult:
            result = super().compress_by_context(prompt, context)
            self.results.append(result)
            return result

        def compress(self, prompt: str, max_tokens: int) -> CompressionResult:
            result = super().compress(prompt, max_tokens)
            self.results.append(result)
            return result

    return RecordingCompressor


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oxbot", "pytest-oxbot")
    group.addoption(
        "--oxbot-compressor-model",
        default=None,
        help=f"model whose tokenizer oxbot_compressor counts with (default: ini or {DEFAULT_MODEL})",
    )
    parser.addini(
        "oxbot_compressor_model", f"default model of oxbot_compressor ({DEFAULT_MODEL})", default=None
    )


def _model(config: pytest.Config) -> str:
    model = (
        config.getoption("--oxbot-compressor-model")
        or config.getini("oxbot_compressor_model")
        or DEFAULT_MODEL
    )
    try:
        resolve(str(model))
    except UnknownModelError as exc:
        raise pytest.UsageError(f"--oxbot-compressor-model: {exc}") from None
    return str(model)


MODEL_KEY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Resolve the model once, so a typo fails the run at start-up rather than every test."""
    config.stash[MODEL_KEY] = _model(config)


@pytest.fixture
def oxbot_compressor(request: pytest.FixtureRequest) -> Iterator[AdaptivePromptCompressor]:
    """An AdaptivePromptCompressor; reports `prompt_tokens` (largest compressed prompt) at teardown."""
    compressor = recording_compressor_class()(request.config.stash[MODEL_KEY])
    yield compressor
    results: list[CompressionResult] = getattr(compressor, "results", [])
    if results:
        counts = [r.compressed_tokens for r in results]
        report(request.node, "prompt_tokens", max(counts), samples=counts, source="compressor")
