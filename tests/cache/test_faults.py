"""Redis or the database down: no exception reaches the caller, the fault is counted, the tier recovers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from pytest_oxbot.cache import CacheBackendError, CoherencePolicy, FaultPolicy, HierarchicalCache
from pytest_oxbot.cache.faults import TcpProxy, outage
from pytest_oxbot.clock import FakeClock

Factory = Callable[..., HierarchicalCache]


async def test_redis_down_degrades_to_memory_and_sql_then_repairs(
    oxbot_cache: HierarchicalCache, oxbot_clock: FakeClock
) -> None:
    await oxbot_cache.set("k", "v1")
    with outage(oxbot_cache, "l2"):
        await oxbot_cache.set("k", "v2")  # L2 keeps "v1": it must never be served again
        await oxbot_cache.set("gone", 1)
        await oxbot_cache.delete("gone")
        oxbot_clock.advance(31)
        assert await oxbot_cache.get("k") == "v2"  # from L3
        stats = oxbot_cache.stats().tiers["l2"]
        assert not stats.up
        assert stats.errors >= 1
    oxbot_clock.advance(31)  # past the retry interval and past L1
    assert await oxbot_cache.get("k") == "v2"  # L2 was repaired (stale key deleted) before use
    assert await oxbot_cache.get("gone") is None
    assert oxbot_cache.stats().tiers["l2"].up


async def test_database_down_degrades_to_memory_and_redis_then_repairs(
    oxbot_cache: HierarchicalCache, oxbot_clock: FakeClock
) -> None:
    await oxbot_cache.set("k", "v1")
    with outage(oxbot_cache, "l3"):
        await oxbot_cache.delete("k")  # L3 keeps "v1"
        oxbot_clock.advance(10)  # the L2 tombstone expires; L3 is still down
        assert await oxbot_cache.get("k") is None
        assert not oxbot_cache.stats().tiers["l3"].up
    oxbot_clock.advance(2)
    assert await oxbot_cache.get("k") is None  # the dirty key was deleted from L3 on recovery
    assert oxbot_cache.stats().tiers["l3"].up


async def test_every_tier_down_is_still_no_exception(oxbot_cache: HierarchicalCache) -> None:
    with outage(oxbot_cache, "l2"), outage(oxbot_cache, "l3"):
        await oxbot_cache.set("k", 1)
        assert await oxbot_cache.get("k") == 1  # L1 still serves this process
        await oxbot_cache.clear()
        assert await oxbot_cache.get_or_compute("k", _const(2)) == 2
    assert oxbot_cache.stats().errors >= 2


async def test_strict_mode_raises(oxbot_cache_factory: Factory) -> None:
    cache = oxbot_cache_factory(faults=FaultPolicy(strict=True))
    with outage(cache, "l3"), pytest.raises(CacheBackendError, match="l3"):
        await cache.set("k", 1)


async def test_unreachable_servers_from_the_start(oxbot_clock: FakeClock) -> None:
    """A bot started while Redis and PostgreSQL are down runs on L1 alone (ports nobody listens on)."""
    cache = await HierarchicalCache.connect(
        "redis://127.0.0.1:1/0",
        "postgresql+asyncpg://u@127.0.0.1:1/x",
        clock=oxbot_clock,
        coherence=CoherencePolicy(subscribe_timeout=0.5),
        faults=FaultPolicy(sql_timeout=2),
    )
    try:
        await cache.set("k", 1)
        assert await cache.get("k") is None  # the invalidation channel is down: L1 is not trusted
        assert await cache.get_or_compute("k", _const(3)) == 3
        stats = cache.stats()
        assert not stats.tiers["l2"].up
        assert not stats.tiers["l3"].up
    finally:
        await cache.aclose()


async def test_a_lone_process_may_keep_l1_while_redis_is_down(oxbot_clock: FakeClock) -> None:
    cache = await HierarchicalCache.connect(
        "redis://127.0.0.1:1/0",
        clock=oxbot_clock,
        coherence=CoherencePolicy(subscribe_timeout=0.5, trust_l1_offline=True),
    )
    try:
        await cache.set("k", 1)
        assert await cache.get("k") == 1
        assert cache.stats().tiers["l2"].errors >= 1
    finally:
        await cache.aclose()


async def test_real_database_cut_and_back(
    oxbot_real_db: Any,  # requested for its skip/fail rule
    oxbot_database_url: str,
    oxbot_redis: Any,
    oxbot_key_prefix: str,
    oxbot_clock: FakeClock,
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    url = make_url(oxbot_database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.up()
    engine = create_async_engine(url.set(host="127.0.0.1", port=proxy.port), pool_pre_ping=True)
    cache = HierarchicalCache(
        oxbot_redis,
        engine,
        clock=oxbot_clock,
        namespace=oxbot_key_prefix,
        table=f"oxbot_cache_{oxbot_key_prefix[-12:]}",
        faults=FaultPolicy(retry_interval=0),
    )
    try:
        await cache.set("k", "v1")
        await proxy.down()
        await cache.delete("k")  # PostgreSQL misses this delete
        oxbot_clock.advance(10)
        assert await cache.get("k") is None
        assert cache.stats().tiers["l3"].errors >= 1
        await proxy.up()
        assert await cache.get("k") is None
        assert cache.stats().tiers["l3"].up
    finally:
        await cache.aclose()
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP TABLE IF EXISTS "oxbot_cache_{oxbot_key_prefix[-12:]}"')
        await engine.dispose()
        await proxy.down()


def _const(value: Any) -> Any:
    async def load() -> Any:
        return value

    return load
