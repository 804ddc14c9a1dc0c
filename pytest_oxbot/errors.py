"""One error root for everything pytest-oxbot raises on purpose, with one subclass per area.

`except OxbotError` catches anything the toolkit, the fakes or the gate raised deliberately; an area's
base (`CacheError`, `LLMError`, ...) catches that area only. Specific errors live beside the code that
raises them and derive from their area's base here. Where a builtin meaning fits too (a bad value, a
missing key) the error also derives from that builtin, so `except ValueError` keeps working.
This module imports nothing: every other module may import it.
"""

from __future__ import annotations

__all__ = [
    "BatcherError",
    "CacheError",
    "CompressorError",
    "DatabaseError",
    "FakeError",
    "KpiUsageError",
    "LLMError",
    "MarketDataError",
    "MissingExtraError",
    "MonitorError",
    "OxbotError",
    "PricingError",
    "SettingsError",
    "TokenizerError",
    "UnknownModelError",
    "require",
]


class OxbotError(Exception):
    """The root: every error pytest-oxbot raises on purpose derives from it."""


class SettingsError(OxbotError, ValueError):
    """A setting (environment variable, option, argument) has a bad value; the message names it."""


class MissingExtraError(OxbotError, ImportError):
    """A feature needs an optional dependency that is not installed; the message names the extra."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional dependency {module!r}: pip install 'pytest-oxbot[{extra}]'"
        )
        self.feature = feature
        self.extra = extra
        self.module = module


class CacheError(OxbotError):
    """The hierarchical cache, its tiers or its codec."""


class BatcherError(OxbotError):
    """The intelligent batcher."""


class DatabaseError(OxbotError):
    """The SQL helpers (engines, EXPLAIN checks)."""


class TokenizerError(OxbotError):
    """Token counting."""


class PricingError(OxbotError, ValueError):
    """The price table or a provider's usage block."""


class UnknownModelError(TokenizerError, PricingError, LookupError):
    """A model the tokenizer table or the price table does not know: an error, never a guess or $0."""


class CompressorError(OxbotError):
    """The prompt compressor."""


class LLMError(OxbotError):
    """The cost-aware LLM client: provider errors, budget, routing, decisions."""


class MarketDataError(OxbotError):
    """The market-data client and the exchange's answers."""


class FakeError(OxbotError):
    """The fakes (exchange, LLM provider, cassettes) were asked for something they cannot serve."""


class KpiUsageError(OxbotError, ValueError):
    """A bad KPI name, target, option, baseline or configuration; the plugin turns it into a usage error."""


class MonitorError(OxbotError):
    """The live performance monitor."""


def require(module: str, *, feature: str, extra: str) -> None:
    """Raise `MissingExtraError` unless `module` can be imported (checked without importing it)."""
    from importlib.util import find_spec

    if find_spec(module) is None:
        raise MissingExtraError(feature, extra, module)
