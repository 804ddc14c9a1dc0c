"""The guide's `await PerformanceOptimizer().run_performance_benchmark()`: the toolkit, measured.

It measures the toolkit's own components on the data shipped in the package, deterministically (a replay
clock, no network, no wall-clock figure) and returns the figures as data:

- cache: the batched market client with a `HierarchicalCache` (memory + fakeredis) replaying decision
  cycles every 3 minutes on the fake exchange's recorded candles: lookups, hits, hit rate;
- compression: the 12 real nof1 prompts through `AdaptivePromptCompressor.compress_by_context`: exact
  token counts before and after;
- market data: five symbols in one batched call against five one-by-one calls, counted by the fake
  exchange.

The fake exchange is served on a loopback port for the duration (nothing is patched globally). The full
reference bot, with its database and LLM, is measured by `pytest benchmarks/` instead.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from statistics import fmean
from typing import Any

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.compat.market import OptimizedNetworkClient
from pytest_oxbot.compressor import AdaptivePromptCompressor
from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START, TICKER_24HR, FakeExchange
from pytest_oxbot.fakes.llm import load_nof1_conversations
from pytest_oxbot.market.models import INTERVAL_SECONDS
from pytest_oxbot.tokens import count_tokens

__all__ = ["FIVE_SYMBOLS", "PerformanceOptimizer"]

FIVE_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT")


class PerformanceOptimizer:
    """Runs the benchmark; every argument has the reference cycle's value."""

    def __init__(
        self,
        *,
        symbols: Sequence[str] = FIVE_SYMBOLS,
        cycles: int = 40,
        cycle_seconds: float = 180.0,
        start: float = DEFAULT_REPLAY_START,
        intervals: Sequence[str] = ("15m", "1h"),
        candle_limit: int = 100,
        model: str = "gpt-4o",
        compression: str = "standard",
    ) -> None:
        if cycles < 1 or cycle_seconds <= 0:
            raise ValueError("need cycles >= 1 and cycle_seconds > 0")
        self.symbols = tuple(symbols)
        self.cycles = cycles
        self.cycle_seconds = cycle_seconds
        self.start = start
        self.intervals = tuple(intervals)
        self.candle_limit = candle_limit
        self.model = model
        self.compression = compression

    async def run_performance_benchmark(self) -> dict[str, Any]:
        """The figures, as data (also under `kpis` with the KPI catalogue's names)."""
        cache = await self._cache()
        compression = self._compression()
        market = await self._batching()
        return {
            "cache": cache,
            "compression": compression,
            "market_data": market,
            "kpis": {
                "cache_hit_rate": cache["hit_rate"],
                "prompt_tokens": compression["max_compressed_tokens"],
                "api_calls_per_cycle": market["batched_calls"],
            },
        }

    async def _cache(self) -> dict[str, Any]:
        clock = FakeClock(self.start)
        with FakeExchange(clock, mount=False, serve=True) as exchange:
            async with (
                HierarchicalCache.in_memory(
                    clock=clock, namespace="oxbot-benchmark", l2_ttl=self._longest()
                ) as cache,
                OptimizedNetworkClient(
                    exchange.server_url,
                    cache=cache,
                    clock=clock,
                    sleep=exchange.sleep,
                    rng=random.Random(0),
                ) as client,
            ):
                for i in range(self.cycles):
                    clock.set(self.start + i * self.cycle_seconds)
                    for interval in self.intervals:
                        await client.fetch_candles_many(self.symbols, interval, self.candle_limit)
                stats = cache.stats()
            calls = exchange.total_calls
        return {
            "cycles": self.cycles,
            "lookups": stats.lookups,
            "hits": stats.hits,
            "hit_rate": stats.hit_rate,
            "exchange_calls": calls,
        }

    def _longest(self) -> float:
        """L2 keeps a candle set as long as it is valid (until the next close), as a bot should set it."""
        return float(max(INTERVAL_SECONDS[i] for i in self.intervals))

    def _compression(self) -> dict[str, Any]:
        compressor = AdaptivePromptCompressor(self.model)
        prompts = [c["user_prompt"] for c in load_nof1_conversations()]
        before = [count_tokens(p, self.model) for p in prompts]
        after = [
            count_tokens(str(compressor.compress_by_context(p, self.compression)), self.model)
            for p in prompts
        ]
        return {
            "prompts": len(prompts),
            "model": self.model,
            "context": self.compression,
            "original_tokens": before,
            "compressed_tokens": after,
            "mean_reduction": fmean(1 - a / b for a, b in zip(after, before, strict=True)),
            "max_compressed_tokens": max(after),
        }

    async def _batching(self) -> dict[str, Any]:
        clock = FakeClock(self.start)
        with FakeExchange(clock, mount=False, serve=True) as exchange:
            async with OptimizedNetworkClient(
                exchange.server_url, clock=clock, sleep=exchange.sleep
            ) as client:
                await client.fetch_market_data_batch(self.symbols)
                batched = exchange.calls[TICKER_24HR]
                for symbol in self.symbols:  # the guide's "5 individual calls"
                    await client.get_market_data(symbol)
                one_by_one = exchange.calls[TICKER_24HR] - batched
        return {"symbols": len(self.symbols), "batched_calls": batched, "per_symbol_calls": one_by_one}
