"""The cache on a Redis that evicts (`--maxmemory-policy allkeys-lru`, a small `maxmemory`).

Each test starts its own `redis-server` (see conftest.py). Under that policy Redis may evict any key:
a cached value (a miss, counted, never an error), a single-flight lock (a loader runs twice at worst),
a delete's tombstone (the copy from L3 into L2 is checked against L3, so the deleted value does not
come back). The cache reads the policy at start, warns once and records it in its stats.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.connections import eviction_policy, make_engine, make_fake_redis, make_redis_client

from .conftest import StartRedis

LRU = ("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - a background task of the cache makes it true
            await asyncio.sleep(0.01)


async def fill_until_gone(redis: Any, key: str, *, chunk: int = 10, size: int = 10_000) -> int:
    """Write filler values until Redis has evicted `key`; returns the bytes written.

    Small pipelines: a query buffer is memory Redis cannot evict, and a large one makes it answer
    OOM instead of evicting (which the cache would count as L2 failing, not as an eviction).
    """
    written = 0
    filler = os.urandom(size)
    while await redis.exists(key):
        pipe = redis.pipeline(transaction=False)
        for _ in range(chunk):
            pipe.set(f"filler:{uuid.uuid4().hex}", filler)
        await pipe.execute()
        written += chunk * size
        assert written < 200_000_000, f"{key} was never evicted"
    return written


async def test_evictions_are_counted_misses_never_errors(start_redis: StartRedis) -> None:
    server = start_redis(*LRU)
    client = make_redis_client(server.url)
    cache = HierarchicalCache(client, None, namespace="evict", l1=False, owns_backends=True)
    try:
        values = {f"candles:{i}": {"i": i, "blob": "x" * 10_000} for i in range(600)}  # ~6 MB > 2 MB
        for start in range(0, 600, 50):
            await cache.set_many(dict(list(values.items())[start : start + 50]))
        present = sum([await client.exists(cache.prefix + k) for k in values])
        assert present < len(values)  # Redis did evict

        found = {k: await cache.get(k) for k in values}
        hits = {k: v for k, v in found.items() if v is not None}
        assert all(v == values[k] for k, v in hits.items())  # every hit is the value written
        stats = cache.stats()
        assert stats.lookups == len(values)
        assert stats.misses == len(values) - len(hits)
        # Keys gone before the reads are misses; reads may evict a few more (reply buffers count).
        assert stats.misses >= len(values) - present
        l2 = stats.tiers["l2"]
        assert (l2.errors, l2.undecodable, l2.up) == (0, 0, True)
        print(f"\nhit rate under memory pressure (2 MB allkeys-lru, ~6 MB written): {stats.hit_rate:.2f}")
        await eventually(lambda: cache.stats().eviction_policy is not None)
        assert cache.stats().eviction_policy == "allkeys-lru"
        assert cache.stats().eviction_warnings == 1
    finally:
        await cache.aclose()


async def test_a_stampede_after_a_lock_eviction_runs_the_loader_at_most_twice(
    start_redis: StartRedis,
) -> None:
    # 8 MB: the stampede opens ~100 connections, and connections are memory Redis cannot evict; with
    # less it answers OOM to the lock's SET, which the cache counts as L2 failing (each process then
    # loads on its own; see docs/cache.md) rather than the lock eviction this test is about.
    server = start_redis("--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru")
    namespace = f"stampede-{uuid.uuid4().hex[:8]}"
    raw = make_redis_client(server.url)
    caches = [
        HierarchicalCache(make_redis_client(server.url), None, namespace=namespace, owns_backends=True)
        for _ in range(5)
    ]
    calls: list[str] = []
    first_started, first_may_end = asyncio.Event(), asyncio.Event()

    async def slow_first_load() -> str:
        calls.append("first")
        first_started.set()
        await first_may_end.wait()
        return "first"

    async def load() -> str:
        calls.append("again")
        await asyncio.sleep(0.2)
        return "again"

    try:
        assert all(c.distributed_lock for c in caches)
        leader = asyncio.create_task(caches[0].get_or_compute("decision", slow_first_load))
        await first_started.wait()  # process 0 holds the lock and loads
        lock_key = f"{caches[0].prefix}__lock__:decision"
        await fill_until_gone(raw, lock_key)  # ... and Redis evicts its lock

        stampede = [
            asyncio.create_task(c.get_or_compute("decision", load)) for c in caches[1:] for _ in range(25)
        ]
        async with asyncio.timeout(30):
            while not calls.count("again"):  # noqa: ASYNC110 - one of the stampede got the free lock
                await asyncio.sleep(0.01)
            first_may_end.set()
            results = await asyncio.gather(leader, *stampede)
        assert len(calls) <= 2
        assert calls == ["first", "again"]  # the lock's loss let exactly one more load through
        assert set(results) <= {"first", "again"}
        assert caches[0].stats().lock_lost == 1  # the holder found its lock gone: counted
        assert sum(c.stats().load_errors for c in caches) == 0
    finally:
        for cache in caches:
            await cache.aclose()
        await raw.aclose()


async def test_an_evicted_tombstone_does_not_bring_a_deleted_value_back(
    start_redis: StartRedis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R reads the old value from L3; D deletes it (L3, then an L2 tombstone); Redis evicts the
    tombstone; R's copy into L2 (SET NX) now succeeds. R re-reads L3, sees the row gone and removes
    its copy, so no one is served the deleted value from L2."""
    server = start_redis(*LRU)
    database = f"sqlite+aiosqlite:///{tmp_path / 'l3.sqlite3'}"
    namespace = f"tomb-{uuid.uuid4().hex[:8]}"

    def make(**kwargs: Any) -> HierarchicalCache:
        return HierarchicalCache(
            make_redis_client(server.url),
            make_engine(database),
            namespace=namespace,
            owns_backends=True,
            **kwargs,
        )

    reader, deleter, other = make(), make(), make(l1=False)
    raw = make_redis_client(server.url)
    key = reader.prefix + "position"
    try:
        await deleter.set("position", "open")
        await raw.delete(key)  # L2 lost it (expired): the next read goes to L3
        l3 = reader.tier_guard("l3").tier
        real_get_many = l3.get_many
        read_l3, resume = asyncio.Event(), asyncio.Event()

        async def pause_after_the_first_read(keys: list[str]) -> Any:
            rows = await real_get_many(keys)
            if not read_l3.is_set():
                read_l3.set()
                await resume.wait()  # the reader holds "open" from L3 and has not copied it yet
            return rows

        monkeypatch.setattr(l3, "get_many", pause_after_the_first_read)
        reading = asyncio.create_task(reader.get("position"))
        async with asyncio.timeout(30):
            await read_l3.wait()
            await deleter.delete("position")  # L3 row deleted, tombstone in L2
            assert (await raw.get(key)) is not None  # the tombstone
            await fill_until_gone(raw, key)  # evicted
            resume.set()
            assert await reading == "open"  # its read began before the delete: fine to return
        assert reader.stats().promotions_reverted == 1
        assert await raw.get(key) is None  # the copy into L2 was removed again
        assert await other.get("position") is None  # nobody is served the deleted value
        assert await reader.get("position") is None  # nor the reader itself, from its L1
    finally:
        for cache in (reader, deleter, other):
            await cache.aclose()
        await raw.aclose()


async def test_eviction_policy_reads_config_or_info(start_redis: StartRedis) -> None:
    lru = start_redis(*LRU)
    hidden = start_redis(*LRU, "--rename-command", "CONFIG", "")  # as on many managed services
    default = start_redis()
    for server, expected in ((lru, "allkeys-lru"), (hidden, "allkeys-lru"), (default, "noeviction")):
        client = make_redis_client(server.url)
        try:
            assert await eviction_policy(client) == expected
        finally:
            await client.aclose()
    fake = make_fake_redis()
    assert await eviction_policy(fake) is None  # fakeredis has neither CONFIG nor INFO memory
    down = make_redis_client("redis://127.0.0.1:1/0", socket_timeout=0.5)
    assert await eviction_policy(down) is None  # unknown, not an exception
    await down.aclose()


@pytest.mark.parametrize(("args", "warned"), [(LRU, True), ((), False)])
async def test_the_cache_warns_once_on_an_allkeys_policy(
    start_redis: StartRedis, caplog: pytest.LogCaptureFixture, args: tuple[str, ...], warned: bool
) -> None:
    server = start_redis(*args)
    cache = HierarchicalCache(make_redis_client(server.url), None, namespace="warn", owns_backends=True)
    try:
        with caplog.at_level(logging.WARNING, logger="pytest_oxbot.cache"):
            for i in range(3):
                await cache.set(f"k{i}", i)
            await eventually(lambda: cache.stats().eviction_policy is not None)
        stats = cache.stats()
        assert stats.eviction_warnings == int(warned)
        messages = [r.getMessage() for r in caplog.records if "maxmemory-policy" in r.getMessage()]
        assert len(messages) == int(warned)
        if warned:
            assert "allkeys-lru" in messages[0]
    finally:
        await cache.aclose()
