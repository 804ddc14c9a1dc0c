"""L2 on `redis.asyncio` (a server, a Redis Cluster, or fakeredis): MGET reads, pipelined writes.

Each value is stored as an 8-byte deadline header plus the codec payload. The header carries the
deadline on the cache's clock (a fake clock in tests); Redis's own PX expiry is set to the same
remaining time so memory is reclaimed on a real server. Bytes that are too short for the header, or
whose header is not a number, come back as `UNREADABLE` for that key only.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING, Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.lock import Lock

from .errors import CacheUsageError
from .tiers import NO_DEADLINE, UNREADABLE, Stored

if TYPE_CHECKING:
    from .tiers import Tier

_HEADER = struct.Struct("<d")  # the deadline (cache clock, epoch s) before each payload
_HEADER_SIZE = _HEADER.size
_read_header = _HEADER.unpack_from
_new_stored = tuple.__new__  # Stored(...) without the generated __new__: this is the L2 hot path
TOMBSTONE = b""


def _escape_glob(text: str) -> str:
    """Escape Redis glob metacharacters so a namespace prefix matches literally in SCAN."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def pack(payload: bytes, deadline: float) -> bytes:
    return _HEADER.pack(deadline) + payload


def unpack(raw: bytes) -> Stored:
    """The stored entry, or `UNREADABLE` when `raw` was not written by `pack`."""
    if len(raw) < _HEADER_SIZE:
        return UNREADABLE
    deadline = _read_header(raw)[0]
    if deadline != deadline:  # NaN: no deadline anyone wrote
        return UNREADABLE
    return _new_stored(Stored, (raw[_HEADER_SIZE:], deadline))


class RedisTier:
    """L2: `get_many` is one GET/MGET, `set_many` one pipeline (optionally carrying a PUBLISH)."""

    name = "l2"

    def __init__(self, client: Redis | RedisCluster, *, prefix: str, clock_time: Callable[[], float]) -> None:
        self.client = client
        self.prefix = prefix
        self._now = clock_time
        self.is_cluster = isinstance(client, RedisCluster)
        if client.get_encoder().decode_responses:
            raise CacheUsageError(
                "the cache needs a Redis client with decode_responses=False (values are bytes)"
            )

    def fetch(self, key: str) -> Awaitable[bytes | None]:
        """One key's raw bytes (one GET), for `unpack`: the single-key read path.

        A plain method handing back redis-py's awaitable, not a coroutine of its own: every level of
        an await chain is resumed again each time the read suspends, and this is the hottest read.
        """
        return self.client.get(key)  # type: ignore[return-value]

    unpack = staticmethod(unpack)

    async def get_many(self, keys: list[str]) -> dict[str, Stored]:
        if len(keys) == 1:
            raw = await self.client.get(keys[0])
            return {} if raw is None else {keys[0]: unpack(cast(bytes, raw))}
        if self.is_cluster:  # keys spread over slots: the client splits per node
            values = await self.client.mget_nonatomic(keys)  # type: ignore[union-attr]
        else:
            values = await self.client.mget(keys)
        return {k: unpack(v) for k, v in zip(keys, values, strict=True) if v is not None}

    def _px(self, deadline: float) -> int | None:
        if deadline == NO_DEADLINE:
            return None
        return max(1, math.ceil((deadline - self._now()) * 1000))

    async def set_many(
        self,
        items: list[tuple[str, Stored]],
        *,
        only_if_absent: bool = False,
        publish: tuple[str, bytes] | None = None,
    ) -> None:
        """SET every item in one pipeline, then PUBLISH `publish` (see `_execute`)."""
        pipe = self.client.pipeline(transaction=False)
        for key, (payload, deadline) in items:
            pipe.set(key, pack(payload, deadline), px=self._px(deadline), nx=only_if_absent)
        await self._execute(pipe, publish)

    async def promote_many(
        self, items: list[tuple[str, Stored]], *, overwrite: Collection[str] = ()
    ) -> list[str]:
        """Copy entries up from L3 without overwriting anything newer: SET NX, except for the keys in
        `overwrite` (entries this cache knows to be dead). Returns the keys actually written."""
        if len(items) == 1:
            key, (payload, deadline) = items[0]
            done = await self.client.set(
                key, pack(payload, deadline), px=self._px(deadline), nx=key not in overwrite
            )
            return [key] if done else []
        pipe = self.client.pipeline(transaction=False)
        for key, (payload, deadline) in items:
            pipe.set(key, pack(payload, deadline), px=self._px(deadline), nx=key not in overwrite)
        results = await pipe.execute()
        return [key for (key, _), done in zip(items, results, strict=True) if done]

    async def delete_many(
        self,
        keys: list[str],
        *,
        tombstone_until: float | None = None,
        publish: tuple[str, bytes] | None = None,
    ) -> None:
        """Delete keys; `tombstone_until` leaves a marker so an in-flight promotion cannot revive them."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            if tombstone_until is None:
                pipe.delete(key)
            else:
                pipe.set(key, pack(TOMBSTONE, tombstone_until), px=self._px(tombstone_until))
        await self._execute(pipe, publish)

    async def _execute(self, pipe: Any, publish: tuple[str, bytes] | None) -> None:
        """Run a write pipeline and then its invalidation message.

        On one server the PUBLISH rides in the pipeline (one round trip, executed after the writes). A
        cluster pipeline refuses PUBLISH and runs each node's share concurrently, so the message is sent
        once every node has acknowledged its writes: a subscriber that drops its L1 entry on hearing it
        can only read the new value back.
        """
        if publish is not None and not self.is_cluster:
            pipe.publish(*publish)
        await pipe.execute()
        if publish is not None and self.is_cluster:
            await self.publish(*publish)

    async def publish(self, channel: str, message: bytes) -> None:
        """PUBLISH; on a cluster always through the primary of the channel's hash slot.

        That is the node the listeners subscribe on (redis-py picks it by the channel's slot), so every
        publisher's messages reach them through one node, in the order they were published: what
        `sync_invalidations()` relies on. Publishing through any node would reach them too (the cluster
        bus broadcasts), but messages relayed from different nodes may overtake each other.
        """
        if self.is_cluster:
            cluster = cast(RedisCluster, self.client)
            await cluster.initialize()  # a no-op once the slot map is known
            await cluster.publish(channel, message, target_nodes=cluster.get_node_from_key(channel))
        else:
            await self.client.publish(channel, message)

    async def clear(self, publish: tuple[str, bytes] | None = None) -> None:
        # On a cluster, SCAN visits every primary and UNLINK is split per slot by the client (a cluster
        # pipeline's UNLINK is a coroutine that its `execute()` never runs).
        batch: list[Any] = []
        async for key in self.client.scan_iter(match=_escape_glob(self.prefix) + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await self.client.unlink(*batch)
                batch = []
        if batch:
            await self.client.unlink(*batch)
        if publish is not None:
            await self.publish(*publish)

    def lock(self, name: str, *, timeout: float) -> Lock:
        """redis-py's lock (a key with a token and a TTL); `acquire` blocks up to `timeout` seconds."""
        return self.client.lock(name, timeout=timeout, sleep=0.005, blocking_timeout=timeout)

    async def aclose(self) -> None:
        await self.client.aclose()


if TYPE_CHECKING:

    def _implements_the_protocol(tier: RedisTier) -> Tier[Stored]:
        return tier
