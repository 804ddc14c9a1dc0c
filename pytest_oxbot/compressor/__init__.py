"""AdaptivePromptCompressor, its fidelity check, and (for now) the prompt model and renderers.

Typical use in a decision cycle::

    compressor = AdaptivePromptCompressor("gpt-4o")
    prompt = compressor.compress_by_context(prompt, "market_analysis")   # still a str
    send(prompt); record(prompt.compressed_tokens, prompt.dropped)
"""

from pytest_oxbot.compressor.build import load_candles, sample_context, snapshot_from_candles, trend_of
from pytest_oxbot.compressor.engine import AdaptivePromptCompressor, CompressionResult, CompressorUsageError
from pytest_oxbot.compressor.facts import Fact, FidelityError, FidelityReport, check_fidelity, required_facts
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
from pytest_oxbot.compressor.reduce import Dropped
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
    "CompressorUsageError",
    "Dropped",
    "Fact",
    "FidelityError",
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
