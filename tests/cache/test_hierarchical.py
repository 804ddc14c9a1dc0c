"""HierarchicalCache on the test's backends (fakeredis+SQLite, or real Redis+PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import event, text

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.cache.redis_tier import unpack
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.compat import AdvancedCacheStrategy, PerformanceCache


@dataclasses.dataclass
class Fill:
    price: Decimal
    at: dt.datetime


class Ticker(BaseModel):
    symbol: str
    last: Decimal


async def l2_raw(cache: HierarchicalCache, redis: Any, key: str) -> Any:
    raw = await redis.get(cache.prefix + key)
    return None if raw is None else unpack(raw)


async def l3_row(cache: HierarchicalCache, engine: Any, key: str) -> Any:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT value, expires_at FROM oxbot_cache WHERE key = :k"), {"k": cache.prefix + key}
            )
        ).first()
    return row


async def test_write_through_reaches_every_tier(
    oxbot_cache: HierarchicalCache, oxbot_redis: Any, oxbot_db: Any
) -> None:
    await oxbot_cache.set("btc", {"price": Decimal("97000.5")})
    assert oxbot_cache.memory is not None
    assert len(oxbot_cache.memory) == 1
    assert (await l2_raw(oxbot_cache, oxbot_redis, "btc")) is not None
    assert (await l3_row(oxbot_cache, oxbot_db, "btc")) is not None
    await oxbot_cache.delete("btc")
    assert len(oxbot_cache.memory) == 0
    entry = await l2_raw(oxbot_cache, oxbot_redis, "btc")
    assert entry is None or entry.is_tombstone
    assert (await l3_row(oxbot_cache, oxbot_db, "btc")) is None
    assert await oxbot_cache.get("btc", "gone") == "gone"


async def test_promotion_into_l1_uses_the_l1_ttl(
    oxbot_cache: HierarchicalCache, oxbot_clock: FakeClock, oxbot_redis: Any
) -> None:
    """litellm's bug: a value promoted from Redis kept Redis's TTL in memory. Here L1 gets its own 30 s."""
    mem = oxbot_cache.memory
    assert mem is not None
    t0 = oxbot_clock.time()
    await oxbot_cache.set("k", "v")
    assert mem.deadline(oxbot_cache.prefix + "k") == t0 + 30
    assert (await l2_raw(oxbot_cache, oxbot_redis, "k")).deadline == t0 + 300
    oxbot_clock.advance(31)  # L1 expired, L2 still has 269 s
    assert await oxbot_cache.get("k") == "v"
    assert mem.deadline(oxbot_cache.prefix + "k") == oxbot_clock.time() + 30
    oxbot_clock.advance(300)  # L2 expired too: L3 serves and promotes into L2 with L2's TTL
    assert await oxbot_cache.get("k") == "v"
    assert (await l2_raw(oxbot_cache, oxbot_redis, "k")).deadline == oxbot_clock.time() + 300
    stats = oxbot_cache.stats()
    assert (stats.tiers["l2"].hits, stats.tiers["l3"].hits) == (1, 1)


async def test_promotion_never_outlives_the_value(
    oxbot_cache: HierarchicalCache, oxbot_clock: FakeClock
) -> None:
    t0 = oxbot_clock.time()
    await oxbot_cache.set("k", "v", ttl=40)
    oxbot_clock.advance(31)
    assert await oxbot_cache.get("k") == "v"
    assert oxbot_cache.memory is not None
    assert oxbot_cache.memory.deadline(oxbot_cache.prefix + "k") == t0 + 40  # not now + 30
    oxbot_clock.advance(9)
    assert await oxbot_cache.get("k") is None


async def test_per_call_ttl_caps_each_tier(
    oxbot_cache: HierarchicalCache, oxbot_clock: FakeClock, oxbot_redis: Any, oxbot_db: Any
) -> None:
    t0 = oxbot_clock.time()
    await oxbot_cache.set("k", 1, ttl=100)
    assert oxbot_cache.memory is not None
    assert oxbot_cache.memory.deadline(oxbot_cache.prefix + "k") == t0 + 30
    assert (await l2_raw(oxbot_cache, oxbot_redis, "k")).deadline == t0 + 100
    assert (await l3_row(oxbot_cache, oxbot_db, "k"))[1] == t0 + 100
    oxbot_clock.advance(99.5)
    assert await oxbot_cache.get("k") == 1
    oxbot_clock.advance(0.5)
    assert await oxbot_cache.get("k") is None
    with pytest.raises(ValueError, match="ttl"):
        await oxbot_cache.set("k", 1, ttl=0)


def count_round_trips(redis: Any, engine: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count Redis commands/pipelines sent and SQL statements executed."""
    counts = {"redis": 0, "sql": 0}
    real_exec = redis.execute_command
    real_pipeline = redis.pipeline

    async def execute_command(*args: Any, **kwargs: Any) -> Any:
        counts["redis"] += 1
        return await real_exec(*args, **kwargs)

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = real_pipeline(*args, **kwargs)
        real_execute = pipe.execute

        async def execute(*a: Any, **k: Any) -> Any:
            counts["redis"] += 1
            return await real_execute(*a, **k)

        pipe.execute = execute
        return pipe

    monkeypatch.setattr(redis, "execute_command", execute_command)
    monkeypatch.setattr(redis, "pipeline", pipeline)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def on_sql(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "DELETE", "UPDATE")):
            counts["sql"] += 1

    return counts


async def test_batches_cost_one_round_trip_per_tier(
    oxbot_cache: HierarchicalCache,
    oxbot_redis: Any,
    oxbot_db: Any,
    oxbot_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await oxbot_cache.get("warm-up")  # table creation and subscription are one-off
    counts = count_round_trips(oxbot_redis, oxbot_db, monkeypatch)
    data = {f"sym{i}": {"px": Decimal(i)} for i in range(50)}
    await oxbot_cache.set_many(data, ttl=120)
    assert counts == {"redis": 1, "sql": 1}  # one pipeline (SETs + PUBLISH), one upsert

    oxbot_clock.advance(31)  # L1 gone: all 50 come from L2 in one MGET
    counts.update(redis=0, sql=0)
    assert await oxbot_cache.get_many([*list(data), "absent"]) == data
    assert counts == {"redis": 1, "sql": 1}  # MGET, then one SELECT for the one key L2 lacked

    oxbot_clock.advance(31)
    await oxbot_redis.unlink(*[oxbot_cache.prefix + k for k in data])  # only L3 has them now
    counts.update(redis=0, sql=0)
    assert await oxbot_cache.get_many(data) == data
    # MGET, SELECT, one pipeline promoting into L2, and one SELECT checking that L3 still holds what
    # was copied (a delete racing the copy must not leave the old value in L2: see test_eviction.py)
    assert counts == {"redis": 2, "sql": 2}


async def test_clear_flushes_only_this_namespace_and_version(
    oxbot_cache_factory: Callable[..., HierarchicalCache],
) -> None:
    v1 = oxbot_cache_factory(version=1)
    v2 = oxbot_cache_factory(version=2)
    await v1.set("k", "one")
    await v2.set("k", "two")
    await v1.clear()
    assert await v1.get("k") is None
    assert await v2.get("k") == "two"


VALUES: list[Any] = [
    "text",
    b"\x00bytes\xff",
    42,
    2**80,
    1.5,
    Decimal("0.00012300"),
    dt.datetime(2026, 2, 1, 10, 0, tzinfo=dt.UTC),
    {"nested": [1, (2, 3), {"d": Decimal("1.10")}]},
    Fill(Decimal("3200.10"), dt.datetime(2026, 1, 20, tzinfo=dt.UTC)),
    Ticker(symbol="SOLUSDT", last=Decimal("187.23")),
    None,
]


@pytest.mark.parametrize("tier", ["l1", "l2", "l3"])
async def test_values_keep_their_type_in_every_tier(
    oxbot_cache: HierarchicalCache, oxbot_clock: FakeClock, oxbot_redis: Any, tier: str
) -> None:
    oxbot_cache.codec.register(Fill)
    oxbot_cache.codec.register(Ticker)
    await oxbot_cache.set_many({str(i): v for i, v in enumerate(VALUES)})
    if tier in ("l2", "l3"):
        oxbot_clock.advance(31)  # past L1
    if tier == "l3":
        oxbot_clock.advance(300)  # past L2
    for i, value in enumerate(VALUES):
        got = await oxbot_cache.get(str(i), default="MISSING")
        assert repr(got) == repr(value)
    served = oxbot_cache.stats().tiers[tier]
    assert served.hits == len(VALUES)


async def test_redis_holds_json_not_pickle(oxbot_cache: HierarchicalCache, oxbot_redis: Any) -> None:
    await oxbot_cache.set("k", {"p": Decimal("1.5")})
    entry = await l2_raw(oxbot_cache, oxbot_redis, "k")
    assert json.loads(entry.payload) == {"p": {"__t": "dec", "v": "1.5"}}


async def test_undecodable_entry_is_a_miss_not_an_error(
    oxbot_cache: HierarchicalCache, oxbot_redis: Any
) -> None:
    from pytest_oxbot.cache.redis_tier import pack

    hostile = json.dumps({"__t": "dc", "c": "os:system", "v": {"command": "id"}}).encode()
    await oxbot_redis.set(oxbot_cache.prefix + "k", pack(hostile, 4e9))
    assert await oxbot_cache.get("k", "miss") == "miss"
    l2 = oxbot_cache.stats().tiers["l2"]
    assert (l2.undecodable, l2.errors, l2.up) == (1, 0, True)  # a bad entry, not a failing tier


async def test_100_concurrent_misses_make_one_loader_call(oxbot_cache: HierarchicalCache) -> None:
    calls = 0
    gate = asyncio.Event()

    async def loader() -> dict[str, int]:
        nonlocal calls
        calls += 1
        await gate.wait()
        return {"v": 7}

    tasks = [asyncio.create_task(oxbot_cache.get_or_compute("hot", loader)) for _ in range(100)]
    while oxbot_cache.stats().coalesced < 99:  # noqa: ASYNC110 - every caller but one now waits
        await asyncio.sleep(0.001)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert all(r == {"v": 7} for r in results)
    assert await oxbot_cache.get_or_compute("hot", loader) == {"v": 7}
    assert calls == 1


async def test_loader_error_reaches_every_waiter_and_is_not_cached(oxbot_cache: HierarchicalCache) -> None:
    calls = 0
    gate = asyncio.Event()

    async def failing() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise RuntimeError("exchange down")

    tasks = [asyncio.create_task(oxbot_cache.get_or_compute("k", failing)) for _ in range(20)]
    while oxbot_cache.stats().coalesced < 19:  # noqa: ASYNC110 - until all wait on the load
        await asyncio.sleep(0.001)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert calls == 1
    assert all(isinstance(r, RuntimeError) and str(r) == "exchange down" for r in results)
    assert await oxbot_cache.get("k", "absent") == "absent"

    async def ok() -> int:
        return 5

    assert await oxbot_cache.get_or_compute("k", ok) == 5  # the error was not cached
    assert oxbot_cache.stats().load_errors == 1


async def test_cancelling_the_loading_caller_does_not_cancel_the_waiters(
    oxbot_cache: HierarchicalCache,
) -> None:
    started = asyncio.Event()
    calls = 0

    async def slow() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.sleep(3600)  # cancelled below long before
        return "never"

    leader = asyncio.create_task(oxbot_cache.get_or_compute("k", slow))
    await started.wait()

    async def fast() -> str:
        return "fresh"

    waiter = asyncio.create_task(oxbot_cache.get_or_compute("k", fast))
    await asyncio.sleep(0)
    leader.cancel()
    assert await waiter == "fresh"  # it took over the load instead of inheriting the cancellation
    with pytest.raises(asyncio.CancelledError):
        await leader


async def test_hit_rate_counts_every_tier(oxbot_cache: HierarchicalCache, oxbot_clock: FakeClock) -> None:
    await oxbot_cache.set("a", 1)
    assert await oxbot_cache.get("a") == 1  # L1 hit
    oxbot_clock.advance(31)
    assert await oxbot_cache.get("a") == 1  # L2 hit
    assert await oxbot_cache.get("b") is None  # miss
    stats = oxbot_cache.stats()
    assert (stats.lookups, stats.hits, stats.misses) == (3, 2, 1)
    assert oxbot_cache.hit_rate == pytest.approx(2 / 3)
    assert stats.tiers["l1"].hits == 1
    assert stats.tiers["l2"].hits == 1
    assert stats.as_dict()["tiers"]["l2"]["latency_count"] >= 1


async def test_memory_only_mode_needs_no_redis(oxbot_clock: FakeClock) -> None:
    cache = HierarchicalCache.memory_only(clock=oxbot_clock, l1_max_entries=2)
    await cache.set_many({"a": 1, "b": 2, "c": 3})
    assert await cache.get_many(["a", "b", "c"]) == {"b": 2, "c": 3}
    assert await cache.get_or_compute("a", _const(9)) == 9
    assert set(cache.stats().tiers) == {"l1"}
    await cache.aclose()


def _const(value: Any) -> Callable[[], Any]:
    async def load() -> Any:
        return value

    return load


def test_nothing_binds_to_an_event_loop_at_construction() -> None:
    """pytest gives each test a new loop: a cache built outside any loop must work inside each of them."""
    memory = HierarchicalCache.memory_only()
    embedded = HierarchicalCache.in_memory(sql=True)

    async def use(cache: HierarchicalCache, value: int) -> Any:
        await cache.set("k", value)
        return await cache.get("k")

    async def use_and_close(cache: HierarchicalCache, value: int) -> Any:
        async with cache:
            return await use(cache, value)

    assert asyncio.run(use(memory, 1)) == 1
    assert asyncio.run(use(memory, 2)) == 2
    assert asyncio.run(use_and_close(embedded, 3)) == 3  # built before any loop existed


async def test_embedded_and_url_constructors(oxbot_redis_url: str | None, oxbot_clock: FakeClock) -> None:
    async with await HierarchicalCache.connect(clock=oxbot_clock, namespace="oxbot-test-ctor") as cache:
        await cache.set("k", Decimal("2.5"))
        assert await cache.get("k") == Decimal("2.5")
    async with HierarchicalCache.in_memory(clock=oxbot_clock, sql=True) as cache:
        await cache.set("k", 1)
        assert set(cache.stats().tiers) == {"l1", "l2", "l3"}


async def test_zero_x_bot_names(oxbot_cache: HierarchicalCache) -> None:
    perf = PerformanceCache(oxbot_cache)
    calls = 0

    def fallback() -> dict[str, str]:  # a plain function works as well as a coroutine function
        nonlocal calls
        calls += 1
        return {"action": "HOLD"}

    assert await perf.get_with_fallback("decision:BTC", fallback) == {"action": "HOLD"}
    assert await perf.get_with_fallback("decision:BTC", fallback) == {"action": "HOLD"}
    assert calls == 1
    await perf.set_with_ttl("decision:ETH", {"action": "BUY"}, 60)
    assert await AdvancedCacheStrategy(oxbot_cache).get("decision:ETH") == {"action": "BUY"}
    assert perf.get_cache_hit_rate() == pytest.approx(2 / 3)
