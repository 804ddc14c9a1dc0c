"""One bot process of test_e2e_processes.py (run as a script, never collected by pytest).

A DemoBot on the fakes with a cache on the real Redis, a MetricsReporter publishing into the monitor's
Redis keys, and a control key the test writes (`noise`, `latency`, `memory_mb`, `next_day`, `stop`).
After each cycle it writes what it observed on its own components to `<control>:status:<name>`.
"""

from __future__ import annotations

import asyncio
import json
import sys

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.connections import make_redis_client
from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START
from pytest_oxbot.monitor.demo import DemoBot
from pytest_oxbot.monitor.fleet import RedisReporterLink
from pytest_oxbot.monitor.reporter import MetricsReporter


async def main(redis_url: str, prefix: str, control: str, name: str) -> None:
    clock = FakeClock(DEFAULT_REPLAY_START)
    cache = await HierarchicalCache.connect(redis_url, clock=clock, namespace=f"{control}-cache")
    redis = make_redis_client(redis_url)
    reporter = MetricsReporter(name)  # wall clock: the monitor differences counters in real time
    link = RedisReporterLink(redis, prefix=prefix, ttl_s=10)
    bot = DemoBot(cache=cache, reporter=reporter, clock=clock)
    bot.set_latency("gpt-4o-mini", 0.6)
    bot.set_latency("gpt-4.1-nano", 0.3)
    day_moves = 0
    last: dict[str, object] = {}
    async with bot:
        while True:
            raw = await redis.get(f"{control}:phase")
            phase = json.loads(raw) if raw else {}
            if phase.get("stop"):
                break
            for model, seconds in (phase.get("latency") or {}).items():
                bot.set_latency(model, float(seconds))
            if len(bot.ballast) != int(phase.get("memory_mb", 0)):
                bot.hold_memory(int(phase.get("memory_mb", 0)))
            while day_moves < int(phase.get("next_day", 0)):
                bot.llm_clock.advance(86_400)
                day_moves += 1
            outcome = await bot.cycle(noise_lookups=int(phase.get("noise", 0)))
            if outcome["model"]:
                last = outcome
            await link.publish(reporter)
            memory = cache.memory
            status = {
                "cycles": bot.cycles,
                "refused": bot.refused,
                "provider_calls": len(bot.provider.calls),
                "last_model": last.get("model"),
                "ttl": [cache.l1_ttl, cache.l2_ttl],
                "forced": bot.llm.router.forced_model,
                "stopped": bot.budget.stopped,
                "l1_entries": len(memory) if memory is not None else None,
                "cleanups": sum(1 for a in reporter.actions.log if a.action == "cleanup_cache" and a.ok),
            }
            await redis.set(f"{control}:status:{name}", json.dumps(status), ex=60)
            await asyncio.sleep(0.05)
    await link.withdraw(reporter)
    await cache.aclose()
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
