"""Two bot processes report into one monitor through the real Redis; each alert is driven past its threshold,
its action observed in both processes, then cleared.

fakeredis cannot cross processes, so this needs OXBOT_REDIS_URL (skipped without it, failed in CI
without it). The monitor runs here, on the wall clock, ticking every 0.2 s; the bots run DemoBot cycles
as fast as they can and follow a control key this test writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from pytest_oxbot.monitor.config import MonitorConfig
from pytest_oxbot.monitor.fleet import RedisFleet
from pytest_oxbot.monitor.service import Monitor

from .conftest import rule

SCRIPT = Path(__file__).with_name("bot_process.py")
NAMES = ("bot-a", "bot-b")
# Each step waits for what the bots report, not for a time; this is only how long before a step is called
# lost. Generous: on a loaded 2-core machine (the benchmarks or CPU hogs beside it) two bot processes, the
# monitor and Redis share the cores, and a bot sees the model switch back only on its next cache miss.
TIMEOUT_S = 180.0


class Fleet:
    def __init__(self, redis: Any, control: str, prefix: str) -> None:
        self.redis = redis
        self.control = control
        self.prefix = prefix
        self.phase: dict[str, Any] = {}

    async def set_phase(self, **changes: Any) -> None:
        self.phase.update(changes)
        await self.redis.set(f"{self.control}:phase", json.dumps(self.phase), ex=600)

    async def status(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name in NAMES:
            raw = await self.redis.get(f"{self.control}:status:{name}")
            if raw:
                out[name] = json.loads(raw)
        return out

    async def until(self, what: str, check: Callable[[dict[str, dict[str, Any]]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            status = await self.status()
            if len(status) == len(NAMES) and check(status):
                return status
            await asyncio.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}; bots say {await self.status()}")


@pytest_asyncio.fixture
async def fleet(oxbot_real_redis: Any, oxbot_redis_url: str, oxbot_key_prefix: str) -> AsyncIterator[Fleet]:
    control, prefix = oxbot_key_prefix, f"{oxbot_key_prefix}-monitor"
    f = Fleet(oxbot_real_redis, control, prefix)
    await f.set_phase(noise=0)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            oxbot_redis_url,
            prefix,
            control,
            name,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ},
        )
        for name in NAMES
    ]
    try:
        yield f
    finally:
        await f.set_phase(stop=True)
        for p in procs:
            try:
                _, err = await asyncio.wait_for(p.communicate(), 30)
            except TimeoutError:
                p.kill()
                await p.wait()
                err = b"killed"
            assert p.returncode == 0, err.decode()[-2000:]
        keys = [k async for k in oxbot_real_redis.scan_iter(match="{" + prefix + "}*")]
        if keys:
            await oxbot_real_redis.delete(*keys)


async def _baseline_memory_mb(fleet: Fleet, redis_fleet: RedisFleet) -> float:
    await fleet.until("both bots cycling", lambda s: all(v["cycles"] >= 2 for v in s.values()))
    snaps = await redis_fleet.read()
    assert sorted(snaps) == list(NAMES)
    return max(s["memory"]["rss_bytes"] for s in snaps.values()) / 2**20


async def test_two_bot_processes_one_monitor_every_alert_acts_and_clears(
    fleet: Fleet, oxbot_real_redis: Any
) -> None:
    redis_fleet = RedisFleet(oxbot_real_redis, prefix=fleet.prefix)
    memory_threshold = await _baseline_memory_mb(fleet, redis_fleet) + 200
    monitor = Monitor(_config(memory_threshold, cost_threshold=None), fleet=redis_fleet)
    sampler = asyncio.create_task(monitor.run())
    try:
        await _exercise(fleet, monitor)
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler


def _config(memory_threshold: float, cost_threshold: float | None) -> MonitorConfig:
    rules = [
        rule(
            "cache_hit_rate_low",
            "cache_hit_rate",
            "below",
            0.5,
            clear_at=0.6,
            window_s=2,
            min_samples=20,
            action="increase_ttl",
            params={"factor": 2.0, "l1_max_s": 60, "l2_max_s": 600},
        ),
        rule(
            "llm_response_time_high",
            "llm_response_time",
            "above",
            1.0,
            clear_at=0.8,
            window_s=2,
            min_samples=3,
            clear_for_s=2,
            action="switch_to_faster_model",
            params={"model": "gpt-4.1-nano"},
        ),
        rule(
            "memory_usage_high",
            "memory_mb",
            "above",
            memory_threshold,
            clear_at=memory_threshold - 50,
            window_s=1,
            action="cleanup_cache",
        ),
    ]
    if cost_threshold is not None:  # armed last: the bots' spend grows all along
        rules.append(
            rule(
                "cost_daily_limit",
                "cost_today_usd",
                "above",
                cost_threshold,
                window_s=1,
                action="emergency_stop",
            )
        )
    return MonitorConfig(sample_interval_s=0.2, history_resolution_s=1.0, alerts=tuple(rules))


async def _exercise(fleet: Fleet, monitor: Monitor) -> None:
    def active() -> list[str]:
        return sorted(n for n, s in monitor.states.items() if s.active)

    await fleet.until("both bots reported to the monitor", lambda s: len(monitor.snapshots) == 2)
    assert sorted(monitor.snapshots) == list(NAMES)

    # 1. cache_hit_rate_low -> increase_ttl in both processes, then cleared.
    await fleet.set_phase(noise=60)
    await fleet.until(
        "TTLs raised in both bots", lambda s: all(v["ttl"] == [60.0, 600.0] for v in s.values())
    )
    assert "cache_hit_rate_low" in active()
    await fleet.set_phase(noise=0)
    await fleet.until("hit rate alert cleared", lambda s: "cache_hit_rate_low" not in active())

    # 2. llm_response_time_high -> both route to the faster model, and back once it clears.
    await fleet.set_phase(latency={"gpt-4o-mini": 2.5})
    await fleet.until(
        "both bots switched",
        lambda s: all(
            v["forced"] == "gpt-4.1-nano" and v["last_model"] == "gpt-4.1-nano" for v in s.values()
        ),
    )
    assert "llm_response_time_high" in active()
    await fleet.set_phase(latency={"gpt-4o-mini": 0.6})
    await fleet.until(
        "both bots back on their model",
        lambda s: all(v["forced"] is None and v["last_model"] == "gpt-4o-mini" for v in s.values()),
    )
    assert "llm_response_time_high" not in active()

    # 3. memory_usage_high (one bot holds 300 MB) -> L1 cleared in the bots, then cleared.
    await fleet.set_phase(memory_mb=300)
    await fleet.until("L1 cleared", lambda s: all(v["cleanups"] >= 1 for v in s.values()))
    assert "memory_usage_high" in active()
    await fleet.set_phase(memory_mb=0)
    await fleet.until("memory alert cleared", lambda s: "memory_usage_high" not in active())

    # 4. cost_daily_limit (fleet spend) -> every call refused in both, kept after clearing, lifted by reset.
    spent = monitor.current.values["cost_today_usd"] or 0.0
    memory_rule = monitor.config.rule("memory_usage_high")
    monitor.reconfigure(_config(memory_rule.threshold, cost_threshold=spent + 0.002))
    await fleet.until("emergency stop in both bots", lambda s: all(v["stopped"] for v in s.values()))
    assert "cost_daily_limit" in active()
    status = await fleet.status()
    await asyncio.sleep(1.0)
    after = await fleet.status()
    for name in NAMES:
        assert after[name]["provider_calls"] == status[name]["provider_calls"]  # nothing sent any more
        assert after[name]["refused"] > status[name]["refused"]
    await fleet.set_phase(next_day=1)  # spend today back to zero in both bots
    await fleet.until("cost alert cleared", lambda s: "cost_daily_limit" not in active())
    assert all(v["stopped"] for v in (await fleet.status()).values())  # held until reset
    await monitor.reset()
    await fleet.until("calls flow again", lambda s: all(not v["stopped"] for v in s.values()))
    resumed = await fleet.status()
    await fleet.until(
        "new provider calls",
        lambda s: all(s[n]["provider_calls"] > resumed[n]["provider_calls"] for n in NAMES),
    )

    kinds = {(r.alert, r.event) for r in monitor.events}
    for name in ("cache_hit_rate_low", "llm_response_time_high", "memory_usage_high", "cost_daily_limit"):
        assert (name, "fired") in kinds
        assert (name, "cleared") in kinds
    applied = {a["action"] for s in monitor.snapshots.values() for a in s["actions"]}
    assert {"increase_ttl", "switch_to_faster_model", "cleanup_cache", "emergency_stop"} <= applied
