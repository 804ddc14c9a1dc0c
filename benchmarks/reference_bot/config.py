"""What one replay of the decision cycle does: which optimisations are on, over which market span.

The naive and optimised bots are the same code with switches: a worse figure can always be traced to
one switch, and "changing one thing for the worse" is a one-field edit (`dataclasses.replace`) or an
environment variable (`OXBOT_CYCLE_OFF=compressor,decision_cache`) for the benchmark suite.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Final

from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START
from pytest_oxbot.settings import Settings

SYMBOLS: Final = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT")
CYCLE_SECONDS: Final = 180.0
"""A decision every 3 minutes of market time (0xBot's cadence)."""

DEFAULT_CYCLES: Final = 120
"""6 hours of market time: 24 closes of 15m candles and 6 of 1h candles. The figures' period is one 15m
candle (5 cycles); at 120 cycles every KPI is within 0.5 % of its value at 160 (measured), and the naive
run, which recomputes everything every cycle, stays near 10 s on 2 cores."""

SWITCHES: Final = ("decision_cache", "market_cache", "batch_tickers", "compressor", "compact_answers")


@dataclass(frozen=True)
class CycleConfig:
    """One replay. Every optimisation is a boolean switch; `naive()` turns them all off."""

    name: str = "optimised"
    cycles: int = DEFAULT_CYCLES
    start: float = DEFAULT_REPLAY_START
    cycle_seconds: float = CYCLE_SECONDS
    symbols: tuple[str, ...] = SYMBOLS
    model: str = "gpt-4o-mini"
    intraday: str = "15m"
    context: str = "1h"
    candle_limit: int = 200
    decision_cache: bool = True
    """Look decisions up by (model, template version, quantised market state) before calling the LLM."""
    market_cache: bool = True
    """Cache candles until they close and indicators per (symbol, timeframe, last close)."""
    batch_tickers: bool = True
    """One `ticker/24hr?symbols=[...]` call for all symbols instead of one per symbol."""
    compressor: bool = True
    """Send the prompt through AdaptivePromptCompressor (`compress_context`) instead of in full."""
    compact_answers: bool = True
    """Ask for the compact answer contract (short keys, no justification, a strict JSON schema where the
    provider takes one) instead of nof1's answer: ~4x fewer output tokens, the dominant part of latency."""
    batch_llm: bool = False
    """One LLM call for all symbols that missed the decision cache. Off by default, measured: the model
    writes the symbols' decisions one after another, so every decision waits for the whole answer
    (~430 output tokens, 3.1 s on gpt-4o-mini) instead of its own (~100 tokens, 1.1 s); batching saves
    ~20 % of the cost and loses 3x on latency per decision."""
    compress_context: str = "standard"
    max_tokens: int | None = None
    """max_tokens per LLM call; None: `max_tokens_per_symbol` per symbol the call decides."""
    max_tokens_per_symbol: int = 300
    """0xBot's LLM_MAX_TOKENS_PER_CALL."""
    decision_ttl: float = 300.0
    """Seconds a cached decision lives (0xBot's LLM_CACHE_TTL_SECONDS)."""
    price_quantum: float = 0.001
    """Relative price step of the quantised state (0.1 %, Binance's spot taker fee: smaller moves are
    not tradeable at a profit, so they should not change a decision)."""

    def __post_init__(self) -> None:
        if self.cycles < 1:
            raise ValueError("cycles must be >= 1")
        if not self.symbols:
            raise ValueError("at least one symbol")

    @classmethod
    def naive(cls, **overrides: object) -> CycleConfig:
        """No cache, one call per symbol, the full prompt, one LLM call per symbol."""
        off = dict.fromkeys(SWITCHES, False)
        return cls(**{"name": "naive", **off, **overrides})  # type: ignore[arg-type]

    @classmethod
    def optimised(cls, **overrides: object) -> CycleConfig:
        return cls(**overrides)  # type: ignore[arg-type]

    def with_env(self, environ: dict[str, str] | None = None) -> CycleConfig:
        """The reference bot's edge: 0xBot's LLM_CACHE_TTL_SECONDS and LLM_MAX_TOKENS_PER_CALL, and
        `OXBOT_CYCLE_OFF` (switches to turn off), `OXBOT_CYCLE_CYCLES`, `OXBOT_CYCLE_MAX_TOKENS`."""
        env = os.environ if environ is None else environ
        given = {k: env[k] for k in ("LLM_CACHE_TTL_SECONDS", "LLM_MAX_TOKENS_PER_CALL") if env.get(k)}
        changes: dict[str, object] = {}
        if given:  # validated by 0xBot's settings, errors naming the variable
            settings = Settings.from_env(_env_file=None, **given)
            if "LLM_CACHE_TTL_SECONDS" in given:
                changes["decision_ttl"] = float(settings.llm_cache_ttl_seconds)
            if "LLM_MAX_TOKENS_PER_CALL" in given:
                changes["max_tokens_per_symbol"] = settings.llm_max_tokens_per_call
        for switch in filter(None, (s.strip() for s in env.get("OXBOT_CYCLE_OFF", "").split(","))):
            if switch not in SWITCHES:
                raise ValueError(f"OXBOT_CYCLE_OFF: unknown switch {switch!r}; expected some of {SWITCHES}")
            changes[switch] = False
        if env.get("OXBOT_CYCLE_CYCLES"):
            changes["cycles"] = int(env["OXBOT_CYCLE_CYCLES"])
        if env.get("OXBOT_CYCLE_MAX_TOKENS"):
            changes["max_tokens"] = int(env["OXBOT_CYCLE_MAX_TOKENS"])
        return replace(self, **changes)  # type: ignore[arg-type]

    def switches(self) -> dict[str, bool]:
        return {f.name: bool(getattr(self, f.name)) for f in fields(self) if f.name in SWITCHES}
