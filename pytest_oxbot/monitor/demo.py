"""A small bot on the toolkit's components and the fakes: what `--test`, the fixture's examples and the
end-to-end tests drive. Not the reference bot (that one lives with the benchmarks); just enough of a
decision cycle to move every metric the monitor shows.

Per cycle (3 minutes of market time): the five tickers in one batched call, the 1 h candles of each
symbol (cached until the candle closes), a prompt from both, compressed, and one decision for all five
symbols through the cost-aware client (cached on the exact prompt). `noise_lookups` adds cache lookups
of keys never written (a workload the cache cannot serve), which is how a test lowers the hit rate.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.compressor.engine import AdaptivePromptCompressor
from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START, FakeExchange
from pytest_oxbot.fakes.latency import LatencyModel
from pytest_oxbot.fakes.llm import FakeLLMProvider, FakeRequest
from pytest_oxbot.llm.budget import InMemoryBudget
from pytest_oxbot.llm.client import CostAwareLLMClient
from pytest_oxbot.llm.errors import BudgetExceeded
from pytest_oxbot.llm.options import LLMOptions
from pytest_oxbot.llm.routing import ModelRouter
from pytest_oxbot.market.client import MarketDataClient
from pytest_oxbot.monitor.reporter import MetricsReporter, process_memory
from pytest_oxbot.pricing import default_price_table

__all__ = ["DEMO_SYMBOLS", "DemoBot"]

DEMO_SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT")
_RULES = (
    "## Instructions\nDecide for each coin: hold, buy_to_enter, sell_to_enter or close. Keep risk per trade "
    "under 2 % of the account; set stop_loss and profit_target for every entry.\n"
)


def _hold_all(request: FakeRequest) -> dict[str, Any]:
    """A complete, valid answer: HOLD for every coin the prompt names (no parsing noise in the logs)."""
    coins = [s.split("/")[0] for s in DEMO_SYMBOLS if s.split("/")[0] in request.prompt]
    return {c: {"signal": "hold", "confidence": 0.5, "justification": "no edge this cycle"} for c in coins}


class DemoBot:
    """`async with DemoBot(cache=..., reporter=...) as bot: await bot.cycle()`."""

    def __init__(
        self,
        *,
        cache: HierarchicalCache,
        reporter: MetricsReporter | None = None,
        model: str = "gpt-4o-mini",
        fallback_model: str = "gpt-4.1-nano",
        daily_limit_usd: Decimal | None = Decimal("10"),
        start: float = DEFAULT_REPLAY_START,
        cycle_s: float = 180.0,
        latency_models: Mapping[str, LatencyModel] | None = None,
        prompt_budget_tokens: int = 400,
        cache_namespace: str = "demo",
        clock: FakeClock | None = None,
    ) -> None:
        self.cache = cache
        self.clock = clock if clock is not None else FakeClock(start)
        self.llm_clock = FakeClock(start)
        self.cycle_s = cycle_s
        self.prompt_budget_tokens = prompt_budget_tokens
        self.exchange = FakeExchange(self.clock)
        self.provider = FakeLLMProvider(
            answers=_hold_all, clock=self.llm_clock, latency_models=dict(latency_models or {})
        )
        prices = default_price_table()
        self.market = MarketDataClient(
            self.exchange.base_url,
            cache=cache,
            clock=self.clock,
            sleep=self.exchange.sleep,
            batch_window=0.0,
        )
        self.budget = InMemoryBudget(daily_limit_usd, clock=self.llm_clock)
        router = ModelRouter(prices, default_model=model, fallback_model=fallback_model, clock=self.llm_clock)
        self.llm: CostAwareLLMClient = self.provider.client(
            cache=cache,
            price_table=prices,
            budget=self.budget,
            router=router,
            options=LLMOptions(daily_cost_limit=daily_limit_usd),
            default_model=model,
        )
        self.compressor = AdaptivePromptCompressor(model)
        self.reporter = reporter
        if reporter is not None:
            reporter.watch_cache(cache, cache_namespace).watch_llm(self.llm).watch_market(self.market)
        self.cycles = 0
        self.refused = 0
        self.models_used: list[str] = []
        self.ballast: list[bytearray] = []
        self.held_mb = 0
        self._memory_at_start = process_memory()[0]
        self._modelled_peak = self._memory_at_start

    async def __aenter__(self) -> DemoBot:
        self.exchange.__enter__()
        self.provider.__enter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.market.aclose()
            await self.llm.aclose()
        finally:
            self.provider.__exit__(exc_type, exc, tb)
            self.exchange.__exit__(exc_type, exc, tb)

    async def cycle(self, *, noise_lookups: int = 0) -> dict[str, Any]:
        """One decision cycle; returns what it did (model, refused, cache hit)."""
        self.clock.advance(self.cycle_s)
        batch = await self.market.fetch_market_data_batch(DEMO_SYMBOLS)
        lines = [_RULES, "## Market"]
        for symbol, snap in batch.items():
            if snap is None:
                continue
            candles = await self.market.fetch_candles(symbol, "1h", 24)
            closes = ", ".join(str(c.close) for c in candles[-6:])
            lines.append(
                f"{symbol.split('/')[0]}: price {snap.last_price}, 24h change {snap.price_change_percent}%, "
                f"volume {snap.volume}; last 1h closes {closes}"
            )
        for _ in range(noise_lookups):
            await self.cache.get(f"demo-noise:{uuid.uuid4().hex}")
        prompt = "\n".join(lines)
        compressed = self.compressor.compress(prompt, self.prompt_budget_tokens)
        if self.reporter is not None:
            self.reporter.observe_compression(compressed)
        outcome: dict[str, Any] = {"refused": False, "model": None, "cache_hit": None}
        try:
            result = await self.llm.decide(
                compressed.text,
                [s.split("/")[0] for s in DEMO_SYMBOLS],
                original_prompt_tokens=compressed.original_tokens,
            )
        except BudgetExceeded as exc:
            self.refused += 1
            outcome.update(refused=True, error=str(exc))
        else:
            self.models_used.append(result.model)
            outcome.update(model=result.model, cache_hit=result.cache_hit)
        self.cycles += 1
        if self.reporter is not None:
            self.reporter.record_cycle()
        return outcome

    def set_latency(self, model: str, seconds: float) -> None:
        """Make `model` answer in about `seconds` (the provider's modelled latency)."""
        self.provider.latency_models[model] = LatencyModel(seconds, 1e9, "test scenario")

    def hold_memory(self, megabytes: int, *, real: bool = True) -> None:
        """Keep `megabytes` of ballast alive (0 releases it): how a test moves resident memory.

        `real=False` only models it (`modelled_memory` adds it to the memory at start): in a long-lived
        process, such as a pytest session, allocator reuse makes real growth depend on earlier tests.
        """
        self.held_mb = megabytes
        self.ballast = [bytearray(b"x" * 2**20) for _ in range(megabytes)] if real else []

    def modelled_memory(self) -> tuple[int, int]:
        """A memory probe (see `MetricsReporter.memory_probe`): memory at start plus the held ballast."""
        now = self._memory_at_start + self.held_mb * 2**20
        self._modelled_peak = max(self._modelled_peak, now)
        return now, self._modelled_peak
