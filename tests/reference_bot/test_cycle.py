"""The reference cycle: deterministic, each optimisation switch moves its own figure, trades reach the DB."""

from __future__ import annotations

import uuid

import pytest

from benchmarks.reference_bot import CycleConfig, CycleResult, Database, TradingRepository, run_cycle
from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START

SHORT = 10  # two 15m candles: every figure's period, quickly
DETERMINISTIC = (
    "cache_hit_rate",
    "llm_response_time",
    "cost_per_decision",
    "prompt_tokens",
    "api_calls_per_cycle",
)


def _deterministic(result: CycleResult) -> dict[str, float]:
    return {k: v for k, v in result.kpis().items() if k in DETERMINISTIC}


async def test_same_config_same_figures(sqlite_db: Database) -> None:
    config = CycleConfig.optimised(cycles=SHORT)
    first = await run_cycle(config, sqlite_db, uuid.uuid4())
    again = await run_cycle(config, sqlite_db, uuid.uuid4())
    assert _deterministic(first) == _deterministic(again)
    assert first.decision_latencies == again.decision_latencies
    assert first.prompt_tokens == again.prompt_tokens


async def test_optimised_beats_naive_on_every_deterministic_kpi(sqlite_db: Database) -> None:
    naive = await run_cycle(CycleConfig.naive(cycles=SHORT), sqlite_db, uuid.uuid4())
    opt = await run_cycle(CycleConfig.optimised(cycles=SHORT), sqlite_db, uuid.uuid4())
    assert naive.decisions == opt.decisions == SHORT * 5
    assert naive.api_calls_per_cycle == 5
    assert opt.api_calls_per_cycle == 1
    assert naive.llm_calls == SHORT * 5  # one call per symbol per cycle
    assert opt.llm_calls < naive.llm_calls
    assert naive.cache_hit_rate == 0
    assert opt.cache_hit_rate > 0.5
    assert opt.mean_prompt_tokens < naive.mean_prompt_tokens
    assert opt.cost_per_decision < naive.cost_per_decision
    assert opt.llm_response_time < naive.llm_response_time
    assert naive.exchange_calls_per_cycle == 15  # 5 tickers + 10 candle requests, nothing cached
    assert opt.exchange_calls_per_cycle < 5
    assert opt.peak_memory_mb > 0  # measured; the 512 MB budget is gated in a fresh process (benchmarks)
    assert len(opt.db_query_times) == 2 * SHORT  # open positions + recent trades, every cycle


@pytest.mark.parametrize(
    ("switch", "kpi"),
    [
        ("compressor", "prompt_tokens"),
        ("decision_cache", "llm_response_time"),
        ("decision_cache", "cost_per_decision"),
        ("batch_tickers", "api_calls_per_cycle"),
        ("compact_answers", "llm_response_time"),
        ("compact_answers", "cost_per_decision"),
    ],
)
async def test_turning_one_switch_off_worsens_its_kpi(sqlite_db: Database, switch: str, kpi: str) -> None:
    base = CycleConfig.optimised(cycles=SHORT)
    worse = base.with_env({"OXBOT_CYCLE_OFF": switch})
    good, bad = (
        await run_cycle(base, sqlite_db, uuid.uuid4()),
        await run_cycle(worse, sqlite_db, uuid.uuid4()),
    )
    assert bad.kpis()[kpi] > good.kpis()[kpi]


async def test_without_compressor_the_full_prompt_is_sent(sqlite_db: Database) -> None:
    result = await run_cycle(CycleConfig.optimised(cycles=3, compressor=False), sqlite_db, uuid.uuid4())
    assert result.prompt_tokens == result.full_prompt_tokens


async def test_market_cache_off_recomputes_indicators_every_cycle(sqlite_db: Database) -> None:
    off = await run_cycle(CycleConfig.optimised(cycles=SHORT, market_cache=False), sqlite_db, uuid.uuid4())
    on = await run_cycle(CycleConfig.optimised(cycles=SHORT), sqlite_db, uuid.uuid4())
    assert off.indicator_computations == SHORT * 5 * 2
    assert on.indicator_computations < off.indicator_computations / 2


async def test_oversold_market_opens_positions_and_stores_fills(sqlite_db: Database) -> None:
    """2026-01-29 02:30 UTC: BTC, ETH, SOL, XRP all fall below RSI 30 on 15m candles (real data)."""
    bot = uuid.uuid4()
    config = CycleConfig.optimised(cycles=12, start=DEFAULT_REPLAY_START + 394 * 900)
    result = await run_cycle(config, sqlite_db, bot)
    assert result.opened >= 1
    repo = TradingRepository(sqlite_db)
    positions = await repo.open_positions(bot)
    trades = await repo.recent_trades(bot, limit=100)
    assert len(positions) == result.opened - result.closed
    assert len(trades) == result.opened + result.closed
    assert all(
        p.side == "long" and p.stop_loss is not None and p.stop_loss < p.entry_price for p in positions
    )
    decisions = await repo.recent_decisions(bot, limit=1000)
    assert len(decisions) == result.decisions
    assert sum(d.cache_hit for d in decisions) == result.decision_hits
    assert any(d.action == "buy_to_enter" for d in decisions)
    asked = [d for d in decisions if not d.cache_hit]
    assert all(d.prompt_tokens > 0 and d.completion_tokens > 0 and d.cost_usd > 0 for d in asked)
    assert all(
        d.prompt_tokens == 0 and d.cost_usd == 0 and d.latency_s == 0 for d in decisions if d.cache_hit
    )


def test_env_switches_and_errors() -> None:
    base = CycleConfig.optimised()
    changed = base.with_env({"OXBOT_CYCLE_OFF": "compressor, decision_cache", "OXBOT_CYCLE_CYCLES": "7"})
    assert changed.compressor is False
    assert changed.decision_cache is False
    assert changed.market_cache is True
    assert changed.cycles == 7
    assert base.with_env({}) == base
    with pytest.raises(ValueError, match="unknown switch 'compresor'"):
        base.with_env({"OXBOT_CYCLE_OFF": "compresor"})
    with pytest.raises(ValueError, match="cycles"):
        CycleConfig(cycles=0)
    assert not any(CycleConfig.naive().switches().values())
    assert all(CycleConfig.optimised().switches().values())


async def test_a_bot_with_cache_switches_needs_a_cache(sqlite_db: Database) -> None:
    from benchmarks.reference_bot import TradingBot
    from pytest_oxbot.clock import FakeClock
    from pytest_oxbot.fakes.llm import FakeLLMProvider
    from pytest_oxbot.market import MarketDataClient

    async with MarketDataClient() as market:
        with pytest.raises(ValueError, match="need a cache"):
            TradingBot(
                CycleConfig.optimised(),
                bot_id=uuid.uuid4(),
                market=market,
                llm=FakeLLMProvider().client(),
                repository=TradingRepository(sqlite_db),
                clock=FakeClock(),
            )
