"""Replay the reference bot on the recorded candles: fakes, clocks and the measurements around it.

Market time is a FakeClock set to `start + i * cycle_seconds` before each cycle; the FakeExchange serves
what had closed by then. The FakeLLMProvider advances its own FakeClock by each call's modelled latency,
so the LLM client measures exactly that latency. Every figure but the database and memory ones is
therefore deterministic given the data and the latency model.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.fakes.exchange import TICKER_24HR, FakeExchange
from pytest_oxbot.fakes.llm import FakeLLMProvider
from pytest_oxbot.market import MarketDataClient
from pytest_oxbot.market.models import INTERVAL_SECONDS

from .answers import RuleAnswers
from .bot import CycleOutcome, TradingBot
from .config import CycleConfig
from .context import AccountView, SymbolView
from .database import Database
from .memory import PeakRss
from .repository import TradingRepository
from .result import CycleResult


async def run_cycle(
    config: CycleConfig,
    db: Database,
    bot_id: uuid.UUID,
    *,
    redis_url: str | None = None,
) -> CycleResult:
    """Replay `config` for `bot_id` on `db` (tables created) and return what it measured.

    With `redis_url` the cache's L2 is that Redis, under a fresh namespace whose keys are removed at the
    end; without, fakeredis.
    """
    clock = FakeClock(config.start)
    result = CycleResult(config.name, config.switches())
    cache = await _make_cache(config, clock, redis_url, result) if _needs_cache(config) else None
    started = time.perf_counter()
    try:
        with PeakRss() as peak:
            await _replay(config, db, bot_id, clock, cache, result)
        result.peak_memory_mb = peak.megabytes
        result.backends["database"] = db.dialect
    finally:
        result.wall_s = time.perf_counter() - started
        if cache is not None:
            if redis_url:
                await cache.clear()
            await cache.aclose()
    return result


def _needs_cache(config: CycleConfig) -> bool:
    return config.decision_cache or config.market_cache


async def _make_cache(
    config: CycleConfig, clock: FakeClock, redis_url: str | None, result: CycleResult
) -> HierarchicalCache:
    namespace = f"oxbot-cycle-{secrets.token_hex(4)}"  # never collides with another run's keys
    # L2 must keep an entry as long as its own TTL says (a 1h candle stays valid for up to an hour);
    # the cache's generic 300 s cap would drop still-valid candles every other cycle.
    longest = max(INTERVAL_SECONDS[config.intraday], INTERVAL_SECONDS[config.context])
    if redis_url:
        result.backends["cache"] = "redis"
        return await HierarchicalCache.connect(redis_url, clock=clock, namespace=namespace, l2_ttl=longest)
    result.backends["cache"] = "fakeredis"
    return HierarchicalCache.in_memory(clock=clock, namespace=namespace, l2_ttl=longest)


async def _replay(
    config: CycleConfig,
    db: Database,
    bot_id: uuid.UUID,
    clock: FakeClock,
    cache: HierarchicalCache | None,
    result: CycleResult,
) -> None:
    answers = RuleAnswers()

    def show_model(group: Sequence[SymbolView], account: AccountView) -> None:
        positions = {p.symbol: p for p in account.positions}
        answers.market = {v.symbol: (v, positions.get(v.symbol)) for v in group}

    exchange = FakeExchange(clock)
    provider = FakeLLMProvider(answers=answers, clock=FakeClock(config.start))
    with exchange, provider:
        market = MarketDataClient(
            exchange.base_url,
            cache=cache if config.market_cache else None,
            clock=clock,
            sleep=exchange.sleep,
            batch_window=0.0,
            max_symbols_per_call=20 if config.batch_tickers else 1,
        )
        llm = provider.client(default_model=config.model)
        async with market, llm:
            bot = TradingBot(
                config,
                bot_id=bot_id,
                market=market,
                llm=llm,
                repository=TradingRepository(db),
                clock=clock,
                cache=cache,
                before_llm_call=show_model,
            )
            if cache is not None:
                cache.reset_stats()
            for i in range(config.cycles):
                clock.set(config.start + i * config.cycle_seconds)
                with exchange.cycle():
                    outcome = await bot.run_cycle()
                _add(result, outcome)
    result.ticker_calls = exchange.calls_per_cycle(TICKER_24HR)
    result.exchange_calls = exchange.calls_per_cycle(None)
    if cache is not None:
        stats = cache.stats()
        result.cache_lookups, result.cache_hits = stats.lookups, stats.hits
        result.backend_errors = sum(tier.errors for tier in stats.tiers.values())


def _add(result: CycleResult, outcome: CycleOutcome) -> None:
    result.cycles += 1
    for o in outcome.decisions.values():
        result.decisions += 1
        result.decision_latencies.append(o.latency_s)
        result.demoted += o.decision.error is not None
    for call in outcome.calls:
        result.llm_calls += 1
        result.llm_cost += call.cost
        result.prompt_tokens.append(call.prompt_tokens)
        result.completion_tokens.append(call.completion_tokens)
        result.full_prompt_tokens.append(call.full_prompt_tokens)
    result.db_query_times += outcome.db_query_s
    result.db_write_times.append(outcome.db_write_s)
    result.decision_lookups += outcome.decision_lookups
    result.decision_hits += outcome.decision_hits
    result.indicator_computations += outcome.indicator_computations
    result.opened += outcome.opened
    result.closed += outcome.closed
