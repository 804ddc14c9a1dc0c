"""A deleted value is never served to another process for longer than the documented bound, under faults.

Two real processes (this one is A, `coherence_peer.py` is B) on a real `redis-server` this test starts
and a shared SQLite L3:
- B's link to Redis is cut (a `TcpProxy`) while B deletes: the delete reaches only L3. When the link
  comes back, B's background repair deletes the key from L2 AND publishes the invalidation, so A stops
  serving the old value from its L1 (before: A served it for its whole L1 TTL, even after B's repair).
- Redis is frozen (SIGSTOP) while B deletes: A's invalidation channel never reports an error, but its
  heartbeat goes unanswered, so A stops trusting L1 (before: A served the deleted value as long as the
  freeze lasted).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_oxbot.cache import CoherencePolicy, HierarchicalCache
from pytest_oxbot.cache.faults import TcpProxy
from pytest_oxbot.connections import make_engine, make_redis_client

from .conftest import StartRedis

PEER = Path(__file__).with_name("coherence_peer.py")


class Peer:
    """Process B, driven line by line over its stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def ask(self, command: str, within: float = 20.0) -> str:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), within)
        if not line:
            _, err = await self.proc.communicate()
            raise AssertionError(f"process B died:\n{err.decode()}")
        return line.decode().strip()


@pytest.fixture
async def peer_factory() -> AsyncIterator[Callable[[str, str, str], Awaitable[Peer]]]:
    procs: list[asyncio.subprocess.Process] = []

    async def start(redis_url: str, database_url: str, namespace: str) -> Peer:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(PEER),
            redis_url,
            database_url,
            namespace,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ},
        )
        procs.append(proc)
        peer = Peer(proc)
        assert proc.stdout is not None
        ready = await asyncio.wait_for(proc.stdout.readline(), 30)
        if ready.strip() != b"ready":
            _, err = await proc.communicate()
            raise AssertionError(f"process B did not start:\n{err.decode()}")
        return peer

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not await condition():  # noqa: ASYNC110 - the state changes in another task or process
            await asyncio.sleep(0.05)


async def test_a_delete_made_while_the_link_was_cut_reaches_the_other_process_l1(
    start_redis: StartRedis, peer_factory: Any, tmp_path: Path
) -> None:
    server = start_redis()
    database = f"sqlite+aiosqlite:///{tmp_path / 'l3.sqlite3'}"
    namespace = f"coh-{uuid.uuid4().hex[:8]}"
    a = HierarchicalCache(
        make_redis_client(server.url), make_engine(database), namespace=namespace, owns_backends=True
    )
    proxy = TcpProxy("127.0.0.1", server.port)
    await proxy.up()
    try:
        await a.set("price", "old")
        assert await a.get("price") == "old"
        assert a.l1_live
        b = await peer_factory(f"redis://127.0.0.1:{proxy.port}/0", database, namespace)

        await proxy.down()  # B's link to Redis is cut; A's is not
        assert await b.ask("delete price") == "deleted"  # reaches L3 only
        assert await a.get("price") == "old"  # the fault is real: A's L1 and L2 still hold it

        await proxy.up()  # B's background repair deletes it from L2 and publishes the invalidation

        async def a_sees_the_delete() -> bool:
            return await a.get("price") is None

        await eventually(a_sees_the_delete)
        assert a.stats().invalidations_received >= 1
        stats = json.loads(await b.ask("stats"))
        assert stats["tiers"]["l2"]["errors"] >= 1  # B did see its link fail ...
        assert stats["tiers"]["l2"]["up"]  # ... and repaired L2 without being asked to
    finally:
        await a.aclose()
        await proxy.down()


async def test_a_frozen_redis_makes_the_other_process_stop_trusting_its_l1(
    start_redis: StartRedis, peer_factory: Any, tmp_path: Path
) -> None:
    server = start_redis()
    database = f"sqlite+aiosqlite:///{tmp_path / 'l3.sqlite3'}"
    namespace = f"coh-{uuid.uuid4().hex[:8]}"
    a = HierarchicalCache(
        make_redis_client(server.url, socket_timeout=0.5),
        make_engine(database),
        namespace=namespace,
        coherence=CoherencePolicy(heartbeat_interval=0.2, heartbeat_timeout=0.3),
        owns_backends=True,
    )
    try:
        await a.set("price", "old")
        assert await a.get("price") == "old"
        assert a.l1_live
        b = await peer_factory(server.url, database, namespace)

        server.freeze()  # no error anywhere: every socket stays open, nothing answers
        try:
            assert await b.ask("delete price") == "deleted"  # L3 only: B's Redis write times out

            async def a_distrusts_l1() -> bool:
                return not a.l1_live

            await eventually(a_distrusts_l1, within=5)  # heartbeat 0.2 s + deadline 0.3 s, then a miss
            assert await a.get("price") is None  # L1 bypassed, Redis times out, L3 says deleted
            stats = a.stats()
            assert stats.heartbeat_misses >= 1
            assert stats.l1_flushes >= 1
        finally:
            server.thaw()

        async def a_trusts_l1_again() -> bool:
            return a.l1_live

        await eventually(a_trusts_l1_again)  # resubscribed, from an empty L1

        async def b_repaired_l2() -> bool:
            return bool(json.loads(await b.ask("stats"))["tiers"]["l2"]["up"])

        await eventually(b_repaired_l2)
        assert await a.get("price") is None
        assert await a.sync_invalidations()
    finally:
        await a.aclose()
