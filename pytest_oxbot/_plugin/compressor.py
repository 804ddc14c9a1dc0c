"""pytest wiring for the prompt compressor: the `oxbot_compressor` fixture and its option.

The fixture hands a ready `AdaptivePromptCompressor` that remembers what it compressed. At teardown,
if the test compressed anything, it reports the `prompt_tokens` KPI: the LARGEST compressed prompt
of the test (the KPI is an upper bound on what is sent per decision, so the worst prompt is the one
that must meet it), with every compressed count as samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_oxbot._plugin import usage
from pytest_oxbot._plugin.kpi_sink import report

# The compressor is imported by the fixture, not by every pytest run, and the token table only when a
# model other than the default is configured (to check it at start-up).
if TYPE_CHECKING:
    from pytest_oxbot._plugin.compressor_recording import RecordingCompressor

DEFAULT_MODEL = "gpt-4o"


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
    if model == DEFAULT_MODEL:
        return model
    from pytest_oxbot.tokens import resolve

    where = (
        "--oxbot-compressor-model"
        if config.getoption("--oxbot-compressor-model")
        else "ini oxbot_compressor_model"
    )
    with usage.naming(where):
        resolve(str(model))
    return str(model)


MODEL_KEY = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Resolve the model once, so a typo fails the run at start-up rather than every test."""
    config.stash[MODEL_KEY] = _model(config)


@pytest.fixture
def oxbot_compressor(request: pytest.FixtureRequest) -> Iterator[RecordingCompressor]:
    """An AdaptivePromptCompressor; reports `prompt_tokens` (largest compressed prompt) at teardown."""
    from pytest_oxbot._plugin.compressor_recording import RecordingCompressor

    compressor = RecordingCompressor(request.config.stash[MODEL_KEY])
    yield compressor
    results = compressor.results
    if results:
        counts = [r.compressed_tokens for r in results]
        report(request.node, "prompt_tokens", max(counts), samples=counts, source="compressor")
