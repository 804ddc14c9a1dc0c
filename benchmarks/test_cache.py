"""HierarchicalCache hits against the usual alternatives, side by side on this run's event loop.

- L1 hit (`await cache.get(k)` served from memory) against `cachetools.TTLCache.get`, aiocache's
  `SimpleMemoryCache` and cashews' `mem://` cache. Target: <= 0.5x the cachetools time.
- L2 hit (L1 switched off, so every get is one Redis GET plus decoding into the stored type) against a
  bare `redis.asyncio` GET of the same bytes through the same client. Target: <= 1.15x. On the real
  Redis when OXBOT_REDIS_URL (or --oxbot-redis-url) is set, else on fakeredis; the output says which.

What is gated (issue 11: a benchmark that can fail on a busy machine is a bug): the same two ratios in
**CPU instructions** (valgrind, in a child process; see pytest_oxbot.kpi.instructions), which do not move
with the machine's load. The L2 count runs on fakeredis (in-process, so the count is deterministic; a real
server's socket wait is not CPU work of ours). The counts per lookup are KPIs (`cache_l1_hit_instructions`,
`cache_l2_hit_instructions`), so the baseline catches a 1 % regression of a hit.

The wall-clock ratios are printed beside them, measured in this process: rounds alternate between
contenders and the printed ratio is the median of the per-round ratios (each round's pair ran back to
back, so a slow moment of the machine hits both alike). They are gated only on a quiet machine; a miss
under CPU pressure is printed as unstable.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import cachetools
import pytest
from aiocache import SimpleMemoryCache
from cashews import Cache as CashewsCache

from benchmarks.parallel import each
from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.cache.redis_tier import pack
from pytest_oxbot.clock import SystemClock
from pytest_oxbot.connections import make_redis_client
from pytest_oxbot.kpi.instructions import count_instructions
from pytest_oxbot.kpi.load import busy
from pytest_oxbot.kpi.measure import KpiRecorder

VALUE = {"symbol": "BTCUSDT", "price": "97000.5", "rsi": 54.2, "trend": "up"}
KEYS = [f"ticker:{i}" for i in range(500)]
L1_TARGET = 0.5
L2_TARGET = 1.15
BUSY_LIMIT = 0.10  # CPU pressure named beside a wall ratio over target (the gate's own rule)

Timed = Callable[[], Awaitable[float]]
L1_LOOKUPS = 2_000  # per counted call: enough that per-call overheads vanish in the per-lookup figure
L2_LOOKUPS = 400  # fakeredis serves each in ~0.4 M instructions: valgrind time stays ~10 s


# The counted contenders (imported by name in the valgrind child): set-up uncounted, lookups counted.
async def l1_state(n: int) -> tuple[HierarchicalCache, cachetools.TTLCache[str, Any], list[str]]:
    cache = HierarchicalCache.memory_only(clock=SystemClock())
    ttl_cache: cachetools.TTLCache[str, Any] = cachetools.TTLCache(maxsize=10_000, ttl=30)
    for key in KEYS:
        await cache.set(key, VALUE)
        ttl_cache[key] = VALUE
    return cache, ttl_cache, (KEYS * (n // len(KEYS) + 1))[:n]


async def l1_ours(state: tuple[HierarchicalCache, cachetools.TTLCache[str, Any], list[str]]) -> None:
    cache, _, keys = state
    get = cache.get
    for key in keys:
        await get(key)


async def l1_cachetools(state: tuple[HierarchicalCache, cachetools.TTLCache[str, Any], list[str]]) -> None:
    _, ttl_cache, keys = state
    get = ttl_cache.get
    for key in keys:
        get(key)


async def l2_state(n: int) -> tuple[HierarchicalCache, Any, list[str], list[str]]:
    from fakeredis import FakeServer
    from fakeredis.aioredis import FakeRedis

    client = FakeRedis(server=FakeServer())
    cache = HierarchicalCache(client, None, clock=SystemClock(), namespace="bench", l1=False)
    keys = KEYS[:200]
    await cache.set_many(dict.fromkeys(keys, VALUE))
    stored = pack(cache.codec.dumps(VALUE), time.time() + 3600)
    for key in keys:
        await client.set(f"bare:{key}", stored, ex=3600)
    lookups = (keys * (n // len(keys) + 1))[:n]
    return cache, client, lookups, [f"bare:{k}" for k in lookups]


async def l2_ours(state: tuple[HierarchicalCache, Any, list[str], list[str]]) -> None:
    cache, _, keys, _ = state
    get = cache.get
    for key in keys:
        await get(key)


async def l2_bare(state: tuple[HierarchicalCache, Any, list[str], list[str]]) -> None:
    _, client, _, bare_keys = state
    get = client.get
    for key in bare_keys:
        await get(key)


Counted = tuple[Callable[..., Awaitable[None]], Callable[..., Awaitable[Any]], int]


def _count(job: Counted) -> float:
    fn, setup, lookups = job
    return count_instructions(fn, lookups, setup=setup, rounds=1, warmup=1).per_call / lookups


def instructions_per_lookup(pairs: dict[str, Counted]) -> dict[str, float]:
    """Instructions per lookup of each contender, two valgrind children at a time."""
    return dict(zip(pairs, each(_count, pairs.values()), strict=True))


def _gate_instructions(
    oxbot_kpi: KpiRecorder,
    counts: dict[str, float],
    ours: str,
    baseline: str,
    target: float,
    kpi: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ratio = counts[ours] / counts[baseline]
    with capsys.disabled():
        for name, per_lookup in counts.items():
            share = per_lookup / counts[baseline]
            print(f"  {name:<34} {per_lookup:>10,.0f} instructions/lookup  {share:>6.2f}x")
        print(f"  gated: instructions {ours} / {baseline} = {ratio:.3f} (target <= {target})")
    oxbot_kpi.record(kpi, counts[ours], source="valgrind")
    assert ratio <= target, f"{ours} costs {ratio:.3f}x {baseline}'s instructions (target <= {target})"


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


def _print_wall_ratio(ratio: float, target: float, what: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Printed, never gated: neighbours competing for the cores slow the contender that does more CPU work
    per lookup more, so on a busy machine the wall ratio says more about them than about us."""
    if ratio <= target:
        verdict = "within target"
    else:
        verdict = f"over target ({busy(BUSY_LIMIT) or 'machine quiet: compare the instruction ratio'})"
    with capsys.disabled():
        print(f"  wall ratio {what} = {ratio:.2f} (target <= {target}, not gated: {verdict})")


def _report(title: str, results: dict[str, float], baseline: str, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n{title}")
        for name, seconds in results.items():
            print(f"  {name:<34} {seconds * 1e9:>10.0f} ns/lookup  {seconds / results[baseline]:>6.2f}x")


async def test_l1_hit_against_in_memory_caches(
    oxbot_kpi: KpiRecorder, capsys: pytest.CaptureFixture[str]
) -> None:
    oxbot_kpi.require_instruments()
    counts = await asyncio.to_thread(
        instructions_per_lookup,
        {
            "HierarchicalCache L1 (await get)": (l1_ours, l1_state, L1_LOOKUPS),
            "cachetools.TTLCache.get": (l1_cachetools, l1_state, L1_LOOKUPS),
        },
    )
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
    _print_wall_ratio(ratio, L1_TARGET, "L1 / cachetools.TTLCache.get", capsys)
    with capsys.disabled():
        print("L1 hit, CPU instructions (valgrind)")
    _gate_instructions(
        oxbot_kpi,
        counts,
        "HierarchicalCache L1 (await get)",
        "cachetools.TTLCache.get",
        L1_TARGET,
        "cache_l1_hit_instructions",
        capsys,
    )
    await cache.aclose()
    await cashews.close()


async def test_l2_hit_against_a_bare_redis_get(
    oxbot_redis_url: str | None, oxbot_kpi: KpiRecorder, capsys: pytest.CaptureFixture[str]
) -> None:
    oxbot_kpi.require_instruments()
    counts = await asyncio.to_thread(
        instructions_per_lookup,
        {
            "HierarchicalCache L2 (typed value)": (l2_ours, l2_state, L2_LOOKUPS),
            "redis.asyncio GET (bytes)": (l2_bare, l2_state, L2_LOOKUPS),
        },
    )
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
        _print_wall_ratio(ratio, L2_TARGET, "L2 / bare GET", capsys)
        with capsys.disabled():
            print("L2 hit on fakeredis, CPU instructions (valgrind)")
        _gate_instructions(
            oxbot_kpi,
            counts,
            "HierarchicalCache L2 (typed value)",
            "redis.asyncio GET (bytes)",
            L2_TARGET,
            "cache_l2_hit_instructions",
            capsys,
        )
    finally:
        await cache.clear()
        await client.unlink(*bare_keys)
        await cache.aclose()
        await client.aclose()
