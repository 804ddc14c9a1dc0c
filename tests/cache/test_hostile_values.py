"""Whatever bytes sit in Redis or the database under our keys, a read is a value or a miss, never a crash.

A neighbour writing junk, a truncated write, a value from a newer version: each undecodable entry is a
miss for that key only, counted as `undecodable` of its tier (not as a tier failure), and the codec
itself raises nothing but `CodecError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_oxbot.cache import Codec, CodecError, HierarchicalCache, Stored
from pytest_oxbot.cache.redis_tier import pack, unpack
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.connections import make_engine, make_fake_redis

FAR = 4e9  # a deadline far in the future of any clock here

CRAFTED: dict[str, bytes] = {
    "under 8 bytes": b"\x01\x02\x03",
    "empty": b"",
    "100k-deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "Decimal('abc')": json.dumps({"__t": "dec", "v": "abc"}).encode(),
    "UUID from an int": json.dumps({"__t": "uuid", "v": 123}).encode(),
    "timedelta overflow": json.dumps({"__t": "td", "v": [1e9, 0, 0]}).encode(),
    "timedelta too short": json.dumps({"__t": "td", "v": [1]}).encode(),
    "tag without value": json.dumps({"__t": "dec"}).encode(),
    "unhashable set member": json.dumps({"__t": "set", "v": [[1]]}).encode(),
    "fold on a Decimal": json.dumps({"__t": "dec", "v": "1", "f": 1}).encode(),
    "bad base64": json.dumps({"__t": "b", "v": "***"}).encode(),
    "int over the digit limit": b"1" * 5000,
    "not UTF-8": b"\xff\xfe\xfd",
    "trailing junk": b'{"a":1} x',
    "unregistered class": json.dumps({"__t": "dc", "c": "os:system", "v": {"command": "id"}}).encode(),
}


def raw_l2(payload: bytes) -> bytes:
    """What sits in Redis: the deadline header + payload, or raw bytes when the name says so."""
    return payload if len(payload) < 8 else pack(payload, FAR)


@pytest.mark.parametrize("name", list(CRAFTED))
def test_the_codec_raises_only_its_own_error(name: str) -> None:
    with pytest.raises(CodecError):
        Codec().loads(CRAFTED[name])


@pytest.mark.parametrize("name", list(CRAFTED))
async def test_a_crafted_l2_value_is_a_miss_of_that_key_only(
    name: str, oxbot_cache: HierarchicalCache, oxbot_redis: Any
) -> None:
    await oxbot_redis.set(oxbot_cache.prefix + "bad", raw_l2(CRAFTED[name]))
    assert await oxbot_cache.get("bad", "miss") == "miss"  # the single-key read path
    await oxbot_cache.set("good", 1)
    assert oxbot_cache.memory is not None
    oxbot_cache.memory.flush()
    assert await oxbot_cache.get_many(["bad", "good"]) == {"good": 1}  # the batch path
    l2 = oxbot_cache.stats().tiers["l2"]
    assert l2.undecodable == 2
    assert l2.errors == 0
    assert l2.up


async def test_one_short_value_in_get_many_does_not_take_l2_down(
    oxbot_cache: HierarchicalCache, oxbot_redis: Any, oxbot_clock: FakeClock
) -> None:
    data = {f"k{i}": i for i in range(5)}
    await oxbot_cache.set_many(data)
    oxbot_clock.advance(31)  # past L1: the batch is read from L2
    await oxbot_redis.set(oxbot_cache.prefix + "k2", b"abc")
    assert await oxbot_cache.get_many(list(data)) == data
    stats = oxbot_cache.stats().tiers
    assert stats["l2"].hits == 4  # the good keys hit L2 ...
    assert stats["l2"].up  # ... which stays in use
    assert (stats["l2"].undecodable, stats["l2"].errors) == (1, 0)
    assert stats["l3"].hits == 1  # the bad one came from L3 ...
    healed = await oxbot_redis.get(oxbot_cache.prefix + "k2")
    assert oxbot_cache.codec.loads(unpack(healed).payload) == 2  # ... which replaced the junk in L2


@pytest.mark.parametrize("name", list(CRAFTED))
async def test_a_crafted_l3_value_is_a_miss_of_that_key_only(
    name: str, oxbot_cache: HierarchicalCache, oxbot_clock: FakeClock
) -> None:
    l3 = oxbot_cache.tier_guard("l3").tier
    await l3.set_many([(oxbot_cache.prefix + "bad", Stored(CRAFTED[name], FAR))])
    assert await oxbot_cache.get("bad", "miss") == "miss"
    assert await oxbot_cache.get_or_compute("bad", _const("loaded")) == "loaded"  # and the load heals it
    oxbot_clock.advance(400)  # past L1 and L2: L3 serves the healed value
    assert await oxbot_cache.get("bad") == "loaded"
    l3_stats = oxbot_cache.stats().tiers["l3"]
    reads = 2 + oxbot_cache.distributed_lock  # the lock holder looks again before loading
    assert (l3_stats.undecodable, l3_stats.errors, l3_stats.up) == (reads, 0, True)


async def test_a_value_over_the_size_limit_is_refused_both_ways(oxbot_clock: FakeClock) -> None:
    cache = HierarchicalCache.in_memory(clock=oxbot_clock, codec=Codec(max_bytes=1000))
    try:
        with pytest.raises(CodecError, match="max_bytes"):
            await cache.set("big", "x" * 2000)  # could never be read back: refused at the write
        redis = cache.redis
        assert redis is not None
        await redis.set(cache.prefix + "big", pack(json.dumps("y" * 2000).encode(), FAR))
        assert await cache.get("big", "miss") == "miss"  # a neighbour's huge value: not even parsed
        assert cache.stats().tiers["l2"].undecodable == 1
    finally:
        await cache.aclose()


def _const(value: Any) -> Any:
    async def load() -> Any:
        return value

    return load


# -- fuzz --------------------------------------------------------------------------------------------
TAGS = st.sampled_from(
    ["map", "tup", "b", "dec", "dt", "d", "tm", "td", "uuid", "set", "fset", "pm", "dc", "?"]
)
JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
TREES = st.recursive(
    JSON_LEAF,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["__t", "v", "f", "c", "x"]), inner, max_size=3)
        | st.builds(
            lambda tag, v, extra: {"__t": tag, "v": v, **extra},
            TAGS,
            inner,
            st.sampled_from([{}, {"f": 1}, {"c": "os:system"}, {"f": "yes"}]),
        )
    ),
    max_leaves=8,
)
PAYLOADS = st.binary(max_size=40) | TREES.map(lambda t: json.dumps(t).encode())


@settings(max_examples=3000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(PAYLOADS)
def test_fuzz_the_codec_gives_a_value_or_a_codec_error(payload: bytes) -> None:
    with contextlib.suppress(CodecError):  # anything else fails the test
        Codec().loads(payload)


def test_fuzz_any_bytes_in_l2_or_l3_read_as_a_value_or_a_miss() -> None:
    """2,000 examples through the whole read path (single key, batch, both shared tiers), one loop."""
    loop = asyncio.new_event_loop()
    clock = FakeClock()
    cache = HierarchicalCache(
        make_fake_redis(),
        make_engine("sqlite+aiosqlite://"),
        clock=clock,
        namespace=f"fuzz-{uuid.uuid4().hex[:8]}",
        owns_backends=True,
    )
    counter = iter(range(10**9))

    async def one(payload: bytes, in_l3: bool) -> None:
        key = f"k{next(counter)}"
        fk = cache.prefix + key
        if in_l3:
            await cache.tier_guard("l3").tier.set_many([(fk, Stored(payload, FAR))])
        else:
            redis = cache.redis
            assert redis is not None
            await redis.set(fk, raw_l2(payload))
        got = await cache.get(key, "miss")
        many = await cache.get_many([key, "absent"])
        assert set(many) <= {key}
        if got == "miss":
            assert key not in many

    @settings(max_examples=2000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(PAYLOADS, st.booleans())
    def check(payload: bytes, in_l3: bool) -> None:
        loop.run_until_complete(one(payload, in_l3))

    try:
        check()
        stats = cache.stats()
        assert stats.errors == 0  # junk never looked like a failing tier
        assert stats.undecodable > 0
    finally:
        loop.run_until_complete(cache.aclose())
        loop.close()
