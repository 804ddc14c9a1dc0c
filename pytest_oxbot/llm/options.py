"""The LLM client's tunables as one explicit value (0xBot's defaults), so nothing reads the environment.

`Settings.llm()` builds it from LLM_MAX_TOKENS_PER_CALL, LLM_TEMPERATURE_DEFAULT, LLM_CACHE_TTL_SECONDS and
LLM_DAILY_COST_LIMIT_USD at the edges (the plugin, CLIs, `CostAwareLLMClient.from_env()`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from pytest_oxbot.errors import SettingsError

__all__ = ["LLMOptions"]


@dataclass(frozen=True, slots=True)
class LLMOptions:
    """Defaults of every call: reply cap, temperature, how long an answer is cached, the daily spend cap."""

    max_tokens: int = 300
    temperature: float = 0.2
    cache_ttl: float = 300.0
    daily_cost_limit: Decimal | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.max_tokens, int) and self.max_tokens >= 1):
            raise SettingsError(f"LLMOptions.max_tokens must be an integer >= 1, got {self.max_tokens!r}")
        if not (isinstance(self.temperature, int | float) and 0 <= self.temperature <= 2):
            raise SettingsError(f"LLMOptions.temperature must be within 0..2, got {self.temperature!r}")
        if not (
            isinstance(self.cache_ttl, int | float) and math.isfinite(self.cache_ttl) and self.cache_ttl > 0
        ):
            raise SettingsError(
                f"LLMOptions.cache_ttl must be a finite number of seconds > 0, got {self.cache_ttl!r}"
            )
        limit = self.daily_cost_limit
        if limit is not None and not (isinstance(limit, Decimal) and limit.is_finite() and limit >= 0):
            raise SettingsError(
                f"LLMOptions.daily_cost_limit must be a finite Decimal >= 0 or None, got {limit!r}"
            )
