"""Shared pieces of the monitor tests: a demo bot on the test's cache and clock, and rule shorthands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START
from pytest_oxbot.monitor.config import AlertRule, MonitorConfig
from pytest_oxbot.monitor.demo import DemoBot

CYCLE_S = 180.0


def rule(name: str, metric: str, when: str, threshold: float, **kwargs: Any) -> AlertRule:
    return AlertRule(name=name, metric=metric, when=when, threshold=threshold, **kwargs)  # type: ignore[arg-type]


def config(*rules: AlertRule, **kwargs: Any) -> MonitorConfig:
    kwargs.setdefault("sample_interval_s", CYCLE_S)
    kwargs.setdefault("history_resolution_s", CYCLE_S)
    return MonitorConfig(alerts=rules, **kwargs)


@pytest_asyncio.fixture
async def demo_bot(oxbot_monitor: Any, oxbot_cache: Any, oxbot_clock: FakeClock) -> AsyncIterator[DemoBot]:
    """A DemoBot on `oxbot_cache` (real Redis/PostgreSQL when configured), watched by `oxbot_monitor`."""
    oxbot_clock.set(DEFAULT_REPLAY_START)  # inside the recorded candles
    bot = DemoBot(cache=oxbot_cache, reporter=oxbot_monitor.reporter, clock=oxbot_clock)
    bot.set_latency("gpt-4o-mini", 0.6)
    bot.set_latency("gpt-4.1-nano", 0.3)
    async with bot:
        yield bot


async def run_cycles(bot: DemoBot, monitor: Any, n: int, **kwargs: Any) -> list[dict[str, Any]]:
    """`n` bot cycles, the monitor sampling after each (the bot moves the shared clock)."""
    out = []
    for _ in range(n):
        out.append(await bot.cycle(**kwargs))
        await monitor.tick()
    return out


# A slow model routes the bots to a faster one (used by the action and the browser tests).
LATENCY = config(
    rule(
        "llm_response_time_high",
        "llm_response_time",
        "above",
        1.0,
        clear_at=0.8,
        window_s=540,
        action="switch_to_faster_model",
        params={"model": "gpt-4.1-nano"},
    )
)
