"""What one replay measured: raw samples kept, KPIs derived from them (nothing is typed in by hand)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from decimal import Decimal


def _mean(values: list[float] | list[int]) -> float:
    return statistics.fmean(values) if values else 0.0


@dataclass
class CycleResult:
    """Counters and samples of one replay; the properties are 0xBot's KPIs."""

    name: str
    switches: dict[str, bool]
    cycles: int = 0
    decisions: int = 0
    decision_latencies: list[float] = field(default_factory=list)
    """Modelled LLM seconds each decision waited for (0 when it came from the decision cache)."""
    llm_calls: int = 0
    llm_cost: Decimal = Decimal(0)
    prompt_tokens: list[int] = field(default_factory=list)
    """`usage.prompt_tokens` of each LLM call: the tokens actually sent, counted by the provider."""
    completion_tokens: list[int] = field(default_factory=list)
    full_prompt_tokens: list[int] = field(default_factory=list)
    """Tokens of the same prompt before compression (what the naive bot would send)."""
    ticker_calls: list[int] = field(default_factory=list)
    exchange_calls: list[int] = field(default_factory=list)
    db_query_times: list[float] = field(default_factory=list)
    db_write_times: list[float] = field(default_factory=list)
    cache_lookups: int = 0
    cache_hits: int = 0
    decision_lookups: int = 0
    decision_hits: int = 0
    indicator_computations: int = 0
    demoted: int = 0
    opened: int = 0
    closed: int = 0
    backend_errors: int = 0
    """Cache tier failures during the replay (a figure measured on a failing backend is no figure)."""
    peak_memory_mb: float = 0.0
    wall_s: float = 0.0
    backends: dict[str, str] = field(default_factory=dict)

    @property
    def cache_hit_rate(self) -> float:
        """Hits / lookups over every lookup the bot made through its HierarchicalCache, all tiers."""
        return self.cache_hits / self.cache_lookups if self.cache_lookups else 0.0

    @property
    def decision_hit_rate(self) -> float:
        return self.decision_hits / self.decision_lookups if self.decision_lookups else 0.0

    @property
    def llm_response_time(self) -> float:
        """Mean modelled seconds per decision (a cache hit waits for no model)."""
        return _mean(self.decision_latencies)

    @property
    def cost_per_decision(self) -> float:
        return float(self.llm_cost / self.decisions) if self.decisions else 0.0

    @property
    def mean_prompt_tokens(self) -> float:
        return _mean(self.prompt_tokens)

    @property
    def api_calls_per_cycle(self) -> float:
        """Ticker calls for one 5-symbol snapshot, averaged over cycles."""
        return _mean(self.ticker_calls)

    @property
    def exchange_calls_per_cycle(self) -> float:
        return _mean(self.exchange_calls)

    @property
    def db_query_time(self) -> float:
        return _mean(self.db_query_times)

    @property
    def db_query_samples(self) -> list[float]:
        """One sample per cycle: the mean of that cycle's hot queries (their costs differ, so single
        queries would make a two-humped distribution that no noise-aware comparison can judge)."""
        per_cycle = len(self.db_query_times) // self.cycles if self.cycles else 0
        if per_cycle == 0:
            return []
        chunks = range(0, per_cycle * self.cycles, per_cycle)
        return [_mean(self.db_query_times[i : i + per_cycle]) for i in chunks]

    def kpis(self) -> dict[str, float]:
        return {
            "cache_hit_rate": self.cache_hit_rate,
            "llm_response_time": self.llm_response_time,
            "cost_per_decision": self.cost_per_decision,
            "prompt_tokens": self.mean_prompt_tokens,
            "api_calls_per_cycle": self.api_calls_per_cycle,
            "db_query_time": self.db_query_time,
            "memory_usage_mb": self.peak_memory_mb,
        }
