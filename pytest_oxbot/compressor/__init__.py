"""Prompt model, renderers and the AdaptivePromptCompressor (issue 4).

Typical use in a decision cycle::

    ctx = TradingContext(symbols=..., positions=..., portfolio=..., now=...)
    prompt = render_compact(ctx)                     # or render_full(ctx) for the naive "before"
    result = AdaptivePromptCompressor("gpt-4o").compress(prompt, max_tokens=2500)
    send(result.text); record(result.compressed_tokens)
"""

from pytest_oxbot.compressor.build import load_candles, sample_context, snapshot_from_candles, trend_of
from pytest_oxbot.compressor.engine import AdaptivePromptCompressor, CompressionResult
from pytest_oxbot.compressor.facts import Fact, FidelityReport, check_fidelity, required_facts
from pytest_oxbot.compressor.levels import LEVELS, Level
from pytest_oxbot.compressor.market_data import CompressedMarketData
from pytest_oxbot.compressor.model import (
    DEFAULT_RESPONSE_FORMAT,
    DEFAULT_RULES,
    Candle,
    Portfolio,
    Position,
    SeriesSet,
    SymbolSnapshot,
    TradingContext,
)
from pytest_oxbot.compressor.render import (
    render_compact,
    render_full,
    render_minimal,
    render_static,
    round_to_tick,
)
from pytest_oxbot.compressor.text import changed_numbers, numbers_in

__all__ = [
    "DEFAULT_RESPONSE_FORMAT",
    "DEFAULT_RULES",
    "LEVELS",
    "AdaptivePromptCompressor",
    "Candle",
    "CompressedMarketData",
    "CompressionResult",
    "Fact",
    "FidelityReport",
    "Level",
    "Portfolio",
    "Position",
    "SeriesSet",
    "SymbolSnapshot",
    "TradingContext",
    "changed_numbers",
    "check_fidelity",
    "load_candles",
    "numbers_in",
    "render_compact",
    "render_full",
    "render_minimal",
    "render_static",
    "required_facts",
    "round_to_tick",
    "sample_context",
    "snapshot_from_candles",
    "trend_of",
]
