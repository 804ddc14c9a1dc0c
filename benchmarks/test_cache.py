"""HierarchicalCache hits against the usual alternatives, side by side on this run's event loop.

- L1 hit (`await cache.get(k)` served from memory) against `cachetools.TTLCache.get`, aiocache's
  `SimpleMemoryCache` and cashews' `mem://` cache. Target: <= 0.5x the cachetools time.
- L2 hit (L1 switched off, so every get is one Redis GET plus decoding into the stored type) against a
  bare `redis.asyncio` GET of the same bytes through the same client. Target: <= 1.15x. On the real
  Redis when OXBOT_REDIS_URL (or --oxbot-redis-url) is set, else on fakeredis; the output says which.

Rounds alternate between contenders; the asserted ratio is the median of the per-round ratios (each
round's pair ran back to back, so a slow moment of the machine hits both alike and drift cancels
out). Only ratios are asserted, never absolute times.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import cachetools
import pytest
from aiocache import SimpleMemoryCache
from cashews import Cache as CashewsCache

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.cache.redis_tier import pack
from pytest_oxbot.clock import SystemClock
from pytest_oxbot.connections import make_redis_client
from pytest_oxbot.kpi.load import busy

VALUE = {"symbol": "BTCUSDT", "price": "97000.5", "rsi": 54.2, "trend": "up"}
KEYS = [f"ticker:{i}" for i in range(500)]
L1_TARGET = 0.5
L2_TARGET = 1.15
BUSY_LIMIT = 0.10  # CPU pressure (share of the last 10 s with a runnable task waiting), as the gate

Timed = Callable[[], Awaitable[float]]


async def _samples(contenders: dict[str, Timed], rounds: int) -> dict[str, list[float]]:
    """Seconds per lookup of each contender per round, the contenders interleaved round by round."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            samples[name].append(await run())
    return samples


async def _rounds(contenders: dict[str, Timed], rounds: int) -> dict[str, float]:
    """Median seconds per lookup of each contender."""
    return {name: statistics.median(v) for name, v in (await _samples(contenders, rounds)).items()}


def _paired_ratio(samples: dict[str, list[float]], ours: str, baseline: str) -> float:
    """Median of the per-round ratios: each round's pair ran back to back, so drift cancels out."""
    return statistics.median(a / b for a, b in zip(samples[ours], samples[baseline], strict=True))


def _check_ratio(ratio: float, target: float, what: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A wall-clock ratio is gated on a quiet machine; on a busy one (CPU pressure, the gate's own rule for
    wall-clock KPIs) a miss is reported as unstable, not failed: neighbours competing for the two cores
    slow the contender that does more CPU work per lookup more, so the ratio says more about them."""
    if ratio <= target:
        return
    note = busy(BUSY_LIMIT)
    if not note:
        pytest.fail(f"{what}: ratio {ratio:.2f} > target {target}")
    with capsys.disabled():
        print(f"  unstable (not failed): {what} ratio {ratio:.2f} > {target}, {note}")


def _report(title: str, results: dict[str, float], baseline: str, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n{title}")
        for name, seconds in results.items():
            print(f"  {name:<34} {seconds * 1e9:>10.0f} ns/lookup  {seconds / results[baseline]:>6.2f}x")


async def test_l1_hit_against_in_memory_caches(capsys: pytest.CaptureFixture[str]) -> None:
    cache = HierarchicalCache.memory_only(clock=SystemClock())
    ttl_cache: cachetools.TTLCache[str, Any] = cachetools.TTLCache(maxsize=10_000, ttl=30)
    aio = SimpleMemoryCache()
    cashews = CashewsCache()
    cashews.setup("mem://")
    for key in KEYS:
        await cache.set(key, VALUE)
        ttl_cache[key] = VALUE
        await aio.set(key, VALUE, ttl=30)
        await cashews.set(key, VALUE, expire=30)
    hot = KEYS * 10  # 5,000 lookups per round for the fast ones
    few = KEYS  # 500 for the slow ones

    async def ours() -> float:
        get = cache.get
        t0 = time.perf_counter()
        for key in hot:
            await get(key)
        return (time.perf_counter() - t0) / len(hot)

    async def cachetools_get() -> float:
        get = ttl_cache.get
        t0 = time.perf_counter()
        for key in hot:
            get(key)
        return (time.perf_counter() - t0) / len(hot)

    async def cachetools_index() -> float:
        t0 = time.perf_counter()
        for key in hot:
            ttl_cache[key]  # the lookup is the measurement
        return (time.perf_counter() - t0) / len(hot)

    async def aiocache_get() -> float:
        t0 = time.perf_counter()
        for key in few:
            await aio.get(key)
        return (time.perf_counter() - t0) / len(few)

    async def cashews_get() -> float:
        t0 = time.perf_counter()
        for key in few:
            await cashews.get(key)
        return (time.perf_counter() - t0) / len(few)

    samples = await _samples(
        {
            "HierarchicalCache L1 (await get)": ours,
            "cachetools.TTLCache.get": cachetools_get,
            "cachetools.TTLCache[key] (no default)": cachetools_index,
            "aiocache SimpleMemoryCache": aiocache_get,
            "cashews mem://": cashews_get,
        },
        rounds=31,
    )
    results = {name: statistics.median(v) for name, v in samples.items()}
    _report("L1 hit (in-process memory)", results, "cachetools.TTLCache.get", capsys)
    assert cache.stats().hit_rate == 1.0  # every timed lookup really was an L1 hit
    ratio = _paired_ratio(samples, "HierarchicalCache L1 (await get)", "cachetools.TTLCache.get")
    with capsys.disabled():
        print(f"  ratio L1 / cachetools.TTLCache.get = {ratio:.2f} (target <= {L1_TARGET})")
    _check_ratio(ratio, L1_TARGET, "L1 hit vs cachetools.TTLCache.get", capsys)
    await cache.aclose()
    await cashews.close()


async def test_l2_hit_against_a_bare_redis_get(
    oxbot_redis_url: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    if oxbot_redis_url:
        client: Any = make_redis_client(oxbot_redis_url)
        server = "real Redis"
    else:
        from fakeredis import FakeServer
        from fakeredis.aioredis import FakeRedis

        client = FakeRedis(server=FakeServer())
        server = "fakeredis (set OXBOT_REDIS_URL for a real server)"
    namespace = f"oxbot-bench-{uuid.uuid4().hex[:10]}"
    cache = HierarchicalCache(client, None, clock=SystemClock(), namespace=namespace, l1=False)
    keys = KEYS[:200]
    await cache.set_many(dict.fromkeys(keys, VALUE))
    bare_keys = [f"{namespace}:bare:{k}" for k in keys]
    stored = pack(cache.codec.dumps(VALUE), time.time() + 600)  # the very bytes the cache reads
    for key in bare_keys:
        await client.set(key, stored, ex=600)
    try:

        async def ours() -> float:
            get = cache.get
            t0 = time.perf_counter()
            for key in keys:
                await get(key)
            return (time.perf_counter() - t0) / len(keys)

        async def bare() -> float:
            get = client.get
            t0 = time.perf_counter()
            for key in bare_keys:
                await get(key)
            return (time.perf_counter() - t0) / len(keys)

        await _rounds({"ours": ours, "bare": bare}, rounds=3)  # warm the connection pool
        samples = await _samples(
            {"HierarchicalCache L2 (typed value)": ours, "redis.asyncio GET (bytes)": bare}, rounds=40
        )
        results = {name: statistics.median(v) for name, v in samples.items()}
        _report(f"L2 hit on {server}", results, "redis.asyncio GET (bytes)", capsys)
        stats = cache.stats()
        assert stats.hit_rate == 1.0
        assert stats.tiers["l2"].hits == stats.lookups
        ratio = _paired_ratio(samples, "HierarchicalCache L2 (typed value)", "redis.asyncio GET (bytes)")
        with capsys.disabled():
            print(f"  ratio L2 / bare GET = {ratio:.2f} (target <= {L2_TARGET})")
        _check_ratio(ratio, L2_TARGET, "L2 hit vs a bare GET", capsys)
    finally:
        await cache.clear()
        await client.unlink(*bare_keys)
        await cache.aclose()
        await client.aclose()
