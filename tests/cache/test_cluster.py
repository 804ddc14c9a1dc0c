"""The cache on a real Redis Cluster: three `redis-server` primaries this module starts and stops.

Skipped only when `redis-server` is not installed. Keys are spread over every node (the key prefix has
no hash tag), so batches cross hash slots: MGET, pipelines, SCAN and pub/sub all take the cluster paths.
"""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from redis.asyncio.cluster import ClusterNode, RedisCluster

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.cache.faults import outage
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.connections import make_redis_client

REDIS_SERVER = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")
pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None or REDIS_CLI is None,
    reason="redis-server/redis-cli not on PATH: no local Redis Cluster can be started",
)
NODES = 3


@dataclass(frozen=True)
class Cluster:
    ports: list[int]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"


def _free_port() -> int:
    """A free port whose cluster-bus port (+10000) is free too."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10_000 > 65_535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _cli(port: int, *args: str) -> str:
    assert REDIS_CLI is not None
    done = subprocess.run(
        [REDIS_CLI, "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout + done.stderr


def _wait_until(what: str, condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the test cluster did not get ready: {what}")
        time.sleep(0.02)


def _start_node(port: int, node_dir: Path) -> subprocess.Popen[bytes]:
    assert REDIS_SERVER is not None
    args = f"--port {port} --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes-{port}.conf"
    args += " --appendonly no --daemonize no"
    node_dir.mkdir()
    with (node_dir / "server.log").open("wb") as log:
        return subprocess.Popen(
            [REDIS_SERVER, *args.split(), "--save", "", "--dir", str(node_dir)],
            cwd=node_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three primaries on free loopback ports, no replicas; every process is killed at teardown."""
    assert REDIS_CLI is not None
    root = tmp_path_factory.mktemp("redis-cluster")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ports = []
        for _ in range(NODES):
            ports.append(_free_port())
            procs.append(_start_node(ports[-1], root / str(ports[-1])))

        def answering(port: int, proc: subprocess.Popen[bytes]) -> bool:
            if proc.poll() is not None:
                log = (root / str(port) / "server.log").read_text(errors="replace")
                raise RuntimeError(f"redis-server on port {port} exited with {proc.returncode}:\n{log}")
            return "PONG" in _cli(port, "ping")

        for port, proc in zip(ports, procs, strict=True):
            _wait_until(f"node {port} answers PING", functools.partial(answering, port, proc))
        nodes = [f"127.0.0.1:{p}" for p in ports]
        create = [REDIS_CLI, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"]
        created = subprocess.run(create, capture_output=True, text=True, timeout=30, check=False)
        assert created.returncode == 0, created.stdout + created.stderr

        def state_ok(port: int) -> bool:
            return "cluster_state:ok" in _cli(port, "cluster", "info")

        for port in ports:
            _wait_until(f"node {port} says cluster_state:ok", functools.partial(state_ok, port))
        yield Cluster(ports)
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(timeout=10)


def _publishes(port: int) -> int:
    """How many PUBLISH commands a node has run."""
    found = re.search(r"cmdstat_publish:calls=(\d+)", _cli(port, "info", "commandstats"))
    return int(found.group(1)) if found else 0


@pytest.fixture
async def raw(redis_cluster: Cluster) -> AsyncIterator[RedisCluster]:
    """A bare cluster client, to look at what the cache stored and where."""
    client = RedisCluster.from_url(redis_cluster.url)
    await client.initialize()
    yield client
    await client.aclose()


@pytest.fixture
async def caches(redis_cluster: Cluster) -> AsyncIterator[Callable[..., HierarchicalCache]]:
    """`make(**kw)`: caches on the cluster ("processes"), sharing a namespace unique to the test."""
    namespace = f"oxbot-cluster-{uuid.uuid4().hex[:12]}"
    made: list[HierarchicalCache] = []

    def make(*, port: int | None = None, **kwargs: Any) -> HierarchicalCache:
        """`port`: the node the client starts from (default: the first)."""
        kwargs.setdefault("namespace", namespace)
        url = redis_cluster.url if port is None else f"redis://127.0.0.1:{port}/0"
        redis = make_redis_client(url, cluster=True)
        cache = HierarchicalCache(redis, kwargs.pop("engine", None), owns_backends=True, **kwargs)
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.aclose()


def _node_of(raw: RedisCluster, key: str) -> ClusterNode:
    node = raw.get_node_from_key(key)
    assert node is not None
    return node


def _nodes_of(raw: RedisCluster, keys: list[str]) -> set[str]:
    return {_node_of(raw, k).name for k in keys}


@dataclass(frozen=True)
class Quote:
    symbol: str
    bid: Decimal


VALUES: dict[str, Any] = {
    "none": None,
    "bool": True,
    "int": 10**30,
    "float": 1.5,
    "str": "BTC/USDT",
    "bytes": b"\x00\xff",
    "decimal": Decimal("64250.125"),
    "datetime": datetime(2026, 1, 1, 12, 30, tzinfo=UTC),
    "date": date(2026, 1, 2),
    "timedelta": timedelta(seconds=90),
    "uuid": UUID(int=7),
    "tuple": (1, "a", Decimal("2")),
    "set": {1, 2, 3},
    "frozenset": frozenset({"x"}),
    "dict": {1: "one", ("a", 2): [1.0, None]},
    "dataclass": Quote("ETH", Decimal("3100.5")),
}


async def test_connect_builds_a_cluster_client(redis_cluster: Cluster) -> None:
    url = f"redis+cluster://127.0.0.1:{redis_cluster.ports[1]}/0"
    async with await HierarchicalCache.connect(url, namespace=f"c-{uuid.uuid4().hex}") as cache:
        assert isinstance(cache.redis, RedisCluster)
        await cache.set("k", Decimal("1.5"))
        assert await cache.sync_invalidations()
        assert cache.l1_live  # the invalidation channel subscribed on the cluster
        assert cache.stats().tiers["l2"].errors == 0


async def test_values_keep_their_types_across_the_cluster(
    caches: Callable[..., HierarchicalCache], raw: RedisCluster
) -> None:
    writer, reader = caches(), caches()
    for key, value in VALUES.items():
        await writer.set(key, value)
    reader.codec.register(Quote)
    for key, value in VALUES.items():  # one GET each, from L2, on whichever node holds the key
        got = await reader.get(key, default="missing")
        assert got == value, key
        assert type(got) is type(value), key
    assert len(_nodes_of(raw, [reader.prefix + k for k in VALUES])) == NODES
    stats = reader.stats()
    assert stats.tiers["l2"].hits == len(VALUES)
    assert stats.tiers["l2"].errors == 0


async def test_batches_cross_hash_slots_and_nodes(
    caches: Callable[..., HierarchicalCache], raw: RedisCluster
) -> None:
    writer, reader = caches(), caches()
    mapping = {f"sym-{i}": {"i": i, "px": Decimal(i) / 8} for i in range(60)}
    keys = [writer.prefix + k for k in mapping]
    # no hash tag: the keys spread over many slots (not one per key: with a random prefix, CRC16 puts
    # a few of 60 keys in one slot now and then, which failed this line in CI once)
    assert len({raw.keyslot(k) for k in keys}) > len(keys) // 2
    assert len(_nodes_of(raw, keys)) == NODES

    await writer.set_many(mapping, ttl=120)  # one pipeline, split per node
    assert [await raw.exists(k) for k in keys] == [1] * len(keys)
    wanted = [*mapping, "absent-1", "absent-2"]
    assert await reader.get_many(wanted) == mapping  # MGET per slot, not one cross-slot MGET
    assert await reader.get_many(wanted) == mapping  # now from L1
    stats = reader.stats()
    assert stats.tiers["l2"].errors == 0
    assert stats.tiers["l2"].up
    assert stats.tiers["l2"].hits == len(mapping)
    assert stats.tiers["l1"].hits == len(mapping)
    assert writer.stats().tiers["l2"].errors == 0


async def test_delete_leaves_tombstones_and_reaches_other_l1(
    caches: Callable[..., HierarchicalCache], raw: RedisCluster
) -> None:
    a, b = caches(), caches()
    await a.set_many({f"d{i}": i for i in range(12)})
    assert await b.get_many([f"d{i}" for i in range(12)]) == {f"d{i}": i for i in range(12)}  # in B's L1
    await a.delete("d0")
    await a.delete_many([f"d{i}" for i in range(1, 6)])  # over several slots
    assert await b.sync_invalidations()
    assert await b.get_many([f"d{i}" for i in range(12)]) == {f"d{i}": i for i in range(6, 12)}
    assert await a.get("d0", "gone") == "gone"
    assert await raw.get(a.prefix + "d3") is not None  # a tombstone, not a DEL
    for cache in (a, b):
        assert cache.stats().tiers["l2"].errors == 0


async def test_clear_flushes_the_namespace_on_every_node(
    caches: Callable[..., HierarchicalCache], raw: RedisCluster
) -> None:
    a, b = caches(), caches()
    other = caches(namespace=f"{a.namespace}-other")
    await a.set_many({f"c{i}": i for i in range(90)})
    await other.set_many({f"c{i}": i for i in range(30)})
    assert await b.get("c1") == 1  # in B's L1
    mine = [k async for k in raw.scan_iter(match=a.prefix + "*", count=1000)]
    assert len(mine) == 90
    assert len(_nodes_of(raw, mine)) == NODES

    await a.clear()
    assert [k async for k in raw.scan_iter(match=a.prefix + "*", count=1000)] == []
    theirs = [k async for k in raw.scan_iter(match=other.prefix + "*", count=1000)]
    assert len(theirs) == 30  # another namespace is left alone
    assert await b.sync_invalidations()
    assert await b.get_many([f"c{i}" for i in range(90)]) == {}
    assert await other.get("c5") == 5
    assert b.stats().invalidations_received == 1


async def test_get_or_compute_loads_once_across_two_processes(
    caches: Callable[..., HierarchicalCache],
) -> None:
    a, b = caches(), caches()  # a real cluster: the cross-process Redis lock is on
    assert a.distributed_lock
    assert b.distributed_lock
    calls = 0

    async def load() -> dict[str, Decimal]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)
        return {"px": Decimal("1.25")}

    async with asyncio.timeout(10):
        results = await asyncio.gather(
            *(cache.get_or_compute("decision", load, ttl=60) for cache in (a, b, a, b))
        )
    assert calls == 1
    assert results == [{"px": Decimal("1.25")}] * 4
    assert await b.get_or_compute("decision", load) == {"px": Decimal("1.25")}
    assert calls == 1


async def test_writes_elsewhere_clear_this_l1(caches: Callable[..., HierarchicalCache]) -> None:
    a, b = caches(), caches()
    await a.set("btc", 1)
    assert await b.get("btc") == 1  # B caches it in its L1 for 30 s of a clock that never moves here
    assert b.l1_live
    for value in range(2, 12):  # each write's message must reach B before its sync returns
        await a.set("btc", value)
        assert await b.sync_invalidations()
        assert await b.get("btc") == value
    await a.set_many({"btc": "many", "eth": 1})
    assert await b.sync_invalidations()
    assert await b.get("btc") == "many"
    assert b.stats().invalidations_received == 11


async def test_expiry_follows_the_fake_clock_in_every_tier(caches: Callable[..., HierarchicalCache]) -> None:
    clock = FakeClock()
    a, b = caches(clock=clock), caches(clock=clock)
    await a.set("short", "s", ttl=10)
    await a.set("default", "d")  # L1 30 s, L2 300 s
    clock.advance(9)
    assert await b.get("short") == "s"
    clock.advance(2)
    assert await a.get("short", "expired") == "expired"  # neither L1 nor L2 serves it any more
    assert await b.get("short", "expired") == "expired"
    clock.advance(20)  # 31 s: A's L1 entry has expired, L2's has not
    assert await a.get("default") == "d"
    assert a.stats().tiers["l2"].hits == 1
    clock.advance(270)  # 301 s
    assert await a.get("default", "expired") == "expired"
    assert await b.get("default", "expired") == "expired"


async def test_l3_hits_are_promoted_into_l2_across_slots(
    caches: Callable[..., HierarchicalCache], raw: RedisCluster, tmp_path: Path
) -> None:
    from pytest_oxbot.connections import make_engine

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'l3.db'}")
    cache = caches(engine=engine)
    mapping = {f"p{i}": i for i in range(20)}
    await cache.set_many(mapping)
    keys = [cache.prefix + k for k in mapping]
    await raw.unlink(*keys)  # L2 loses them (as after an eviction)
    assert cache.memory is not None
    cache.memory.flush()
    assert await cache.get_many(mapping) == mapping  # from L3 ...
    assert [await raw.exists(k) for k in keys] == [1] * len(keys)  # ... and back in L2, on every node
    assert cache.stats().tiers["l3"].hits == len(mapping)
    assert cache.stats().tiers["l2"].errors == 0


async def test_every_publish_goes_through_the_channel_node(
    caches: Callable[..., HierarchicalCache], raw: RedisCluster, redis_cluster: Cluster
) -> None:
    """Listeners subscribe on the primary of the channel's slot; publishing there too keeps one
    channel's messages in order for them (relays from different nodes could overtake each other)."""
    a, b, c = (caches(port=p) for p in redis_cluster.ports)  # clients starting from different nodes
    owner = _node_of(raw, a.channel).port
    before = {p: _publishes(p) for p in redis_cluster.ports}
    await a.set_many({"x": 1, "y": 2})
    await b.delete_many(["x", "y"])
    await c.clear()
    for cache in (a, b, c):
        assert await cache.sync_invalidations()
    sent = {p: _publishes(p) - before[p] for p in redis_cluster.ports}
    assert sent == {p: 6 if p == owner else 0 for p in redis_cluster.ports}


async def test_many_concurrent_reads_do_not_exhaust_a_node(caches: Callable[..., HierarchicalCache]) -> None:
    """redis-py's cluster client raises MaxConnectionsError when a node's pool is full (it cannot
    queue); the cache's client must not, or a burst would take L2 down for `retry_interval`."""
    a, b = caches(), caches()
    await a.set("hot", "value")
    assert await b.get("hot") == "value"  # B's client is connected and knows the slots
    assert b.memory is not None
    b.memory.flush()
    async with asyncio.timeout(10):
        got = await asyncio.gather(*(b.get("hot", "miss") for _ in range(400)))  # all to one node
    assert got == ["value"] * 400
    assert b.stats().tiers["l2"].errors == 0
    assert b.l1_live  # the listener's connection survived too


async def test_a_decoding_client_is_refused(redis_cluster: Cluster) -> None:
    client = RedisCluster.from_url(redis_cluster.url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            HierarchicalCache(client)
    finally:
        await client.aclose()


async def test_keys_written_during_an_outage_are_deleted_from_l2_on_recovery(
    caches: Callable[..., HierarchicalCache], raw: RedisCluster
) -> None:
    clock = FakeClock()
    cache = caches(clock=clock)
    old = {f"r{i}": "old" for i in range(10)}
    await cache.set_many(old)
    with outage(cache, "l2"):
        await cache.set_many(dict.fromkeys(old, "new"))  # L2 missed these: they are remembered
    assert cache.memory is not None
    cache.memory.flush()
    clock.advance(cache.faults.retry_interval)
    assert await cache.get_many(old) == {}  # repaired first (a DEL per slot), so no stale "old"
    assert [await raw.exists(cache.prefix + k) for k in old] == [0] * len(old)
    assert cache.stats().tiers["l2"].up
