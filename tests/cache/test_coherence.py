"""Cross-process L1 coherence: two caches on one Redis behave like two bot processes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from pytest_oxbot.cache import FaultPolicy, HierarchicalCache
from pytest_oxbot.cache.faults import TcpProxy
from pytest_oxbot.clock import FakeClock

Factory = Callable[..., HierarchicalCache]


async def wait_for(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Poll a condition the event loop will make true (a background task's doing), with a bound."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the state changes in a background task
            await asyncio.sleep(0.005)


async def test_a_write_delete_or_flush_elsewhere_clears_this_l1(oxbot_cache_factory: Factory) -> None:
    a, b = oxbot_cache_factory(), oxbot_cache_factory()
    await a.set("btc", 1)
    assert await a.get("btc") == 1  # cached in A's L1 for 30 s of a clock that never moves here

    await b.set("btc", 2)  # overwrite
    assert await a.sync_invalidations()
    assert await a.get("btc") == 2

    await b.delete("btc")
    assert await a.sync_invalidations()
    assert await a.get("btc") is None

    await a.set_many({"eth": 1, "sol": 2})
    await b.clear()  # flush
    assert await a.sync_invalidations()
    assert a.memory is not None
    assert len(a.memory) == 0
    assert await a.get_many(["eth", "sol"]) == {}
    assert a.stats().invalidations_received == 3


async def test_a_writer_without_l1_still_invalidates_the_others(oxbot_cache_factory: Factory) -> None:
    reader, writer = oxbot_cache_factory(), oxbot_cache_factory(l1=False)
    await reader.set("k", 1)
    await writer.set("k", 2)
    assert await reader.sync_invalidations()
    assert await reader.get("k") == 2


async def test_an_invalidation_before_the_get_reply_leaves_no_stale_value(
    oxbot_cache_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reads the old value from Redis; B's overwrite and its invalidation reach A before A's
    reply is processed. A may return the old value (its read began first) but must not keep it."""
    a, b = oxbot_cache_factory(), oxbot_cache_factory()
    await a.set("k", "old")
    assert a.memory is not None
    a.memory.flush()  # A must go to L2

    client = a.redis  # A's reads go through this client's GET
    assert client is not None
    real_get = client.get
    reply_ready, release = asyncio.Event(), asyncio.Event()

    async def slow_reply(key: str) -> Any:
        result = await real_get(key)  # the old value, as Redis sent it
        reply_ready.set()
        await release.wait()  # ... and the reply sits in A's socket while B writes
        return result

    monkeypatch.setattr(client, "get", slow_reply)
    async with asyncio.timeout(10):
        reader = asyncio.create_task(a.get("k"))
        await reply_ready.wait()
        await b.set("k", "new")
        assert await a.sync_invalidations()  # the invalidation arrived before the reply
        release.set()
        assert await reader == "old"
    monkeypatch.undo()
    assert await a.get("k") == "new"  # not "old" from L1 for the next 30 s


async def test_fakeredis_connection_loss_clears_and_bypasses_l1(
    oxbot_cache_factory: Factory, oxbot_clock: FakeClock
) -> None:
    from fakeredis import FakeServer
    from fakeredis.aioredis import FakeRedis

    server = FakeServer()
    client = FakeRedis(server=server)
    a = oxbot_cache_factory(redis=client, faults=FaultPolicy(retry_interval=0))
    await a.set("k", 1)
    assert a.l1_live
    assert a.memory is not None
    assert len(a.memory) == 1
    server.connected = False
    await wait_for(lambda: not a.l1_live)
    assert len(a.memory) == 0
    assert a.stats().l1_flushes == 1
    assert await a.get("k") == 1  # served by L3 while Redis is away, without raising
    server.connected = True
    await wait_for(lambda: a.l1_live)
    assert await a.get("k") == 1
    assert a.stats().tiers["l2"].up
    await a.aclose()
    await client.aclose()


async def test_real_redis_cut_clears_l1_then_recovers(
    oxbot_real_redis: Any, oxbot_redis_url: str, oxbot_db: Any, oxbot_key_prefix: str, oxbot_clock: FakeClock
) -> None:
    from pytest_oxbot.connections import make_redis_client

    host = oxbot_real_redis.connection_pool.connection_kwargs["host"]
    port = oxbot_real_redis.connection_pool.connection_kwargs["port"]
    proxy = TcpProxy(host, port)
    await proxy.up()
    db = oxbot_redis_url.rsplit("/", 1)[-1] if oxbot_redis_url.rsplit("/", 1)[-1].isdigit() else "0"
    client = make_redis_client(f"redis://127.0.0.1:{proxy.port}/{db}", socket_timeout=1.0)
    cache = HierarchicalCache(
        client,
        oxbot_db,
        clock=oxbot_clock,
        namespace=oxbot_key_prefix,
        faults=FaultPolicy(retry_interval=0),
    )
    try:
        await cache.set("k", "v")
        assert cache.l1_live
        await proxy.down()
        await wait_for(lambda: not cache.l1_live)
        assert cache.memory is not None
        assert len(cache.memory) == 0
        assert await cache.get("k") == "v"  # from PostgreSQL/SQLite; Redis errors are counted, not raised
        await cache.set("k", "v2")  # L2 misses this write: it must not serve "v" later
        assert cache.stats().tiers["l2"].errors >= 1
        await proxy.up()
        await wait_for(lambda: cache.l1_live, within=10)
        oxbot_clock.advance(31)
        assert await cache.get("k") == "v2"
        assert cache.stats().tiers["l2"].up
    finally:
        await cache.aclose()
        await client.aclose()
        await proxy.down()


STRAY_MESSAGES = [
    b"not json",
    b"\xff\xfe",
    b"[1, 2]",
    b'"a string"',
    b'{"k": 5}',  # keys that are not a list: this one used to look like a lost connection
    b'{"o": "x", "k": [1, 2]}',
    b'{"o": "x", "p": ["unhashable"]}',
    b'{"o": "x", "f": "yes"}',
    b"[" * 100_000,  # nesting deeper than the JSON parser's recursion limit
]


async def test_a_stray_message_on_the_channel_is_ignored_not_a_lost_connection(
    oxbot_cache_factory: Factory, oxbot_redis: Any
) -> None:
    cache = oxbot_cache_factory()
    await cache.set("k", "v")
    assert cache.l1_live
    for message in STRAY_MESSAGES:
        await oxbot_redis.publish(cache.channel, message)
    assert await cache.sync_invalidations()  # everything published before was handled
    stats = cache.stats()
    assert stats.stray_messages == len(STRAY_MESSAGES)
    assert stats.l1_flushes == 0  # not treated as a lost connection: no flush, no resubscription
    assert cache.l1_live
    assert cache.memory is not None
    assert len(cache.memory) == 1  # L1 kept its entry
    assert await cache.get("k") == "v"
    assert cache.stats().tiers["l1"].hits == 1


@pytest.mark.timeout(60)
async def test_close_ends_when_the_driver_swallows_the_listeners_cancellation(
    oxbot_cache_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """redis-py can turn a cancel that meets its read timeout into "no message" (redis-py #2551): the
    listener then goes round its loop again. `aclose()` awaited it for ever (seen once in CI, under load:
    a test's teardown hung until pytest-timeout)."""
    from fakeredis import FakeServer
    from fakeredis.aioredis import FakeRedis
    from redis.asyncio.client import PubSub

    swallowed: list[bool] = []
    real_get_message = PubSub.get_message

    async def get_message(self: PubSub, *args: Any, **kwargs: Any) -> Any:
        try:
            return await real_get_message(self, *args, **kwargs)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed.append(True)
            return None

    monkeypatch.setattr(PubSub, "get_message", get_message)
    client = FakeRedis(server=FakeServer())
    a = oxbot_cache_factory(redis=client)
    await a.set("k", 1)
    assert a.l1_live
    await a.aclose()
    assert swallowed == [True]
    await client.aclose()
