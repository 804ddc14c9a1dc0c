"""Each alert driven past its threshold on a running bot (DemoBot on the fakes), its action observed on the
components themselves, then cleared. In one process, on the test's fake clock (the two-process version
through Redis is test_e2e_processes.py)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

from pytest_oxbot.llm.errors import BudgetExceeded, EmergencyStop
from pytest_oxbot.monitor.demo import DemoBot

from .conftest import LATENCY, config, rule, run_cycles

HIT_RATE = config(
    rule(
        "cache_hit_rate_low",
        "cache_hit_rate",
        "below",
        0.5,
        clear_at=0.6,
        window_s=540,
        min_samples=10,
        action="increase_ttl",
        params={"factor": 2.0, "l1_max_s": 100, "l2_max_s": 1200},
        repeat_s=360,
    )
)


@pytest.mark.oxbot_monitor(config=HIT_RATE)
async def test_low_hit_rate_raises_the_ttls_up_to_the_cap_and_a_reset_restores_them(
    oxbot_monitor: Any, demo_bot: DemoBot, caplog: pytest.LogCaptureFixture
) -> None:
    cache = demo_bot.cache
    caplog.set_level(logging.INFO, "pytest_oxbot.monitor")
    await run_cycles(demo_bot, oxbot_monitor, 4)
    assert oxbot_monitor.active() == []  # the candles are cached: a healthy hit rate
    assert (cache.l1_ttl, cache.l2_ttl) == (30.0, 300.0)

    for _ in range(3):
        await run_cycles(demo_bot, oxbot_monitor, 1, noise_lookups=30)  # lookups the cache cannot serve
        if oxbot_monitor.active():
            break
    assert oxbot_monitor.active() == ["cache_hit_rate_low"]
    assert (cache.l1_ttl, cache.l2_ttl) == (60.0, 600.0)  # x2 on the running cache
    await run_cycles(demo_bot, oxbot_monitor, 2, noise_lookups=30)  # still low after repeat_s: one more step
    assert (cache.l1_ttl, cache.l2_ttl) == (100.0, 1200.0)  # L1 capped at 100 s, L2 doubled to its cap
    await run_cycles(demo_bot, oxbot_monitor, 4, noise_lookups=30)
    assert (cache.l1_ttl, cache.l2_ttl) == (100.0, 1200.0)  # never beyond the caps

    events = await run_cycles(demo_bot, oxbot_monitor, 4)
    assert not any(e["refused"] for e in events)
    assert oxbot_monitor.active() == []  # cleared once the noise stopped
    assert (cache.l1_ttl, cache.l2_ttl) == (100.0, 1200.0)  # not reverted on clear (it would re-fire)
    history = [(r.alert, r.event) for r in oxbot_monitor.monitor.events]
    assert ("cache_hit_rate_low", "fired") in history
    assert ("cache_hit_rate_low", "cleared") in history
    assert any("PERF_ALERT cache_hit_rate_low fired" in m for m in caplog.messages)
    assert any("PERF_ALERT cache_hit_rate_low cleared" in m for m in caplog.messages)
    assert any(m.startswith("PERF_METRIC processes=1 cache_hit_rate=") for m in caplog.messages)
    assert any("PERF_ALERT action increase_ttl applied" in m for m in caplog.messages)

    await oxbot_monitor.monitor.reset()
    assert (cache.l1_ttl, cache.l2_ttl) == (30.0, 300.0)


@pytest.mark.oxbot_monitor(config=LATENCY)
async def test_slow_llm_routes_to_the_faster_model_and_back_when_it_clears(
    oxbot_monitor: Any, demo_bot: DemoBot
) -> None:
    await run_cycles(demo_bot, oxbot_monitor, 3)
    assert set(demo_bot.models_used) == {"gpt-4o-mini"}
    assert oxbot_monitor.active() == []
    demo_bot.set_latency("gpt-4o-mini", 2.5)  # the provider degrades
    assert await _cycles_until(demo_bot, oxbot_monitor, lambda: oxbot_monitor.active() != [], 4)
    assert oxbot_monitor.active() == ["llm_response_time_high"]
    assert demo_bot.llm.router.forced_model == "gpt-4.1-nano"
    after = await run_cycles(demo_bot, oxbot_monitor, 1)
    calls = len(demo_bot.provider.calls)
    after += await run_cycles(demo_bot, oxbot_monitor, 1)
    assert {o["model"] for o in after} == {"gpt-4.1-nano"}  # the decisions really went to the faster model
    assert demo_bot.provider.calls[-1].model == "gpt-4.1-nano" or len(demo_bot.provider.calls) == calls

    # The window fills with the fast model's calls: the alert clears and routing goes back.
    assert await _cycles_until(demo_bot, oxbot_monitor, lambda: oxbot_monitor.active() == [], 6)
    assert demo_bot.llm.router.forced_model is None
    demo_bot.set_latency("gpt-4o-mini", 0.6)
    outcomes = await run_cycles(demo_bot, oxbot_monitor, 1)
    assert outcomes[0]["model"] == "gpt-4o-mini"  # back to the configured model


async def _cycles_until(bot: DemoBot, monitor: Any, condition: Any, limit: int) -> bool:
    for _ in range(limit):
        await run_cycles(bot, monitor, 1)
        if condition():
            return True
    return False


COST = config(
    rule("cost_daily_limit", "cost_today_usd", "above", 0.001, window_s=60, action="emergency_stop")
)


@pytest.mark.oxbot_monitor(config=COST)
async def test_daily_cost_stops_every_call_until_reset(oxbot_monitor: Any, demo_bot: DemoBot) -> None:
    outcomes = []
    for _ in range(40):
        outcomes += await run_cycles(demo_bot, oxbot_monitor, 1)
        if oxbot_monitor.active():
            break
    assert oxbot_monitor.active() == ["cost_daily_limit"]
    spent = await demo_bot.budget.spent_today()
    assert spent > Decimal("0.001")
    assert demo_bot.budget.stopped is not None
    sent = len(demo_bot.provider.calls)
    outcomes = await run_cycles(demo_bot, oxbot_monitor, 4)
    assert len(demo_bot.provider.calls) == sent  # nothing reaches the provider any more...
    assert any(o["refused"] for o in outcomes)  # ...every cycle that needed a call was refused
    assert all(o["refused"] or o["cache_hit"] for o in outcomes)  # (a cached decision costs nothing)
    with pytest.raises(EmergencyStop):
        await demo_bot.budget.reserve(Decimal("0.0000001"))
    assert isinstance(EmergencyStop("x", Decimal(0)), BudgetExceeded)

    demo_bot.llm_clock.advance(86_400)  # a new UTC day: spend today is back to zero
    await run_cycles(demo_bot, oxbot_monitor, 1)
    assert oxbot_monitor.active() == []  # cleared...
    with pytest.raises(EmergencyStop):  # ...but the stop holds until reset
        await demo_bot.budget.reserve(Decimal("0.0000001"))
    assert oxbot_monitor.monitor.health_view()[0] == 503

    await oxbot_monitor.monitor.reset()
    assert demo_bot.budget.stopped is None
    outcomes = await run_cycles(demo_bot, oxbot_monitor, 2)
    assert not any(o["refused"] for o in outcomes)
    assert len(demo_bot.provider.calls) > sent


async def test_high_memory_clears_l1(oxbot_monitor: Any, demo_bot: DemoBot) -> None:
    # Modelled memory: in a shared pytest process the allocator's reuse of earlier tests' memory decides
    # whether 300 MB of ballast shows up in RSS. The real allocation is in test_e2e_processes.py.
    oxbot_monitor.reporter.memory_probe = demo_bot.modelled_memory
    rss_mb = demo_bot.modelled_memory()[0] / 2**20
    threshold = rss_mb + 150
    mem_rule = rule(
        "memory_usage_high",
        "memory_mb",
        "above",
        threshold,
        clear_at=threshold - 50,
        window_s=60,
        action="cleanup_cache",
    )
    oxbot_monitor.monitor.reconfigure(config(mem_rule))
    await run_cycles(demo_bot, oxbot_monitor, 2)
    memory = demo_bot.cache.memory
    assert memory is not None
    entries = len(memory)
    assert entries > 0
    assert oxbot_monitor.active() == []

    demo_bot.hold_memory(300, real=False)
    await oxbot_monitor.tick(advance=60)
    assert oxbot_monitor.active() == ["memory_usage_high"]
    assert len(memory) == 0
    assert memory.nbytes == 0
    applied = oxbot_monitor.reporter.actions.log[-1]
    assert applied.action == "cleanup_cache"
    assert f"{entries} entries" in applied.detail

    demo_bot.hold_memory(0, real=False)
    await oxbot_monitor.tick(advance=60)
    assert oxbot_monitor.active() == []
