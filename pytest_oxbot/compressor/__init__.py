"""The AdaptivePromptCompressor: fewer tokens per prompt, no number changed, no instruction or fact lost.

Typical use in a decision cycle::

    compressor = AdaptivePromptCompressor("gpt-4o")
    prompt = compressor.compress_by_context(prompt, "market_analysis")   # still a str
    send(prompt); record(prompt.compressed_tokens, prompt.dropped)
"""

from pytest_oxbot.compressor.engine import AdaptivePromptCompressor, CompressionResult, CompressorUsageError
from pytest_oxbot.compressor.facts import Fact, FidelityError, FidelityReport, check_fidelity, required_facts
from pytest_oxbot.compressor.levels import LEVELS, Level
from pytest_oxbot.compressor.market_data import CompressedMarketData
from pytest_oxbot.compressor.reduce import Dropped
from pytest_oxbot.compressor.text import changed_numbers, numbers_in

__all__ = [
    "LEVELS",
    "AdaptivePromptCompressor",
    "CompressedMarketData",
    "CompressionResult",
    "CompressorUsageError",
    "Dropped",
    "Fact",
    "FidelityError",
    "FidelityReport",
    "Level",
    "changed_numbers",
    "check_fidelity",
    "numbers_in",
    "required_facts",
]
