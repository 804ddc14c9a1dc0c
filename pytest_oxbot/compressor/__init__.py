"""The AdaptivePromptCompressor: fewer tokens per prompt, no number changed, no required fact lost.

Typical use in a decision cycle::

    compressor = AdaptivePromptCompressor("gpt-4o")
    result = compressor.compress(prompt, max_tokens=2500)      # or compress_by_context(prompt, "standard")
    send(result.text); record(result.compressed_tokens)
"""

from pytest_oxbot.compressor.engine import AdaptivePromptCompressor, CompressionResult
from pytest_oxbot.compressor.facts import Fact, FidelityReport, check_fidelity, required_facts
from pytest_oxbot.compressor.levels import LEVELS, Level
from pytest_oxbot.compressor.market_data import CompressedMarketData
from pytest_oxbot.compressor.text import changed_numbers, numbers_in

__all__ = [
    "LEVELS",
    "AdaptivePromptCompressor",
    "CompressedMarketData",
    "CompressionResult",
    "Fact",
    "FidelityReport",
    "Level",
    "changed_numbers",
    "check_fidelity",
    "numbers_in",
    "required_facts",
]
