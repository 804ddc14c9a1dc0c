"""L2 on `redis.asyncio` (a server, a Redis Cluster, or fakeredis): MGET reads, pipelined writes.

Each value is stored as an 8-byte deadline header plus the codec payload. The header carries the
deadline on the cache's clock (a fake clock in tests); Redis's own PX expiry is set to the same
remaining time so memory is reclaimed on a real server.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Collection
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from .tiers import NO_DEADLINE, Stored

_HEADER = struct.Struct("<d")  # the deadline (cache clock, epoch s) before each payload
TOMBSTONE = b""


def _escape_glob(text: str) -> str:
    """Escape Redis glob metacharacters so a namespace prefix matches literally in SCAN."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def pack(payload: bytes, deadline: float) -> bytes:
    return _HEADER.pack(deadline) + payload


def unpack(raw: bytes) -> Stored:
    (deadline,) = _HEADER.unpack_from(raw)
    return Stored(raw[_HEADER.size :], deadline)


class RedisTier:
    """L2: `get_many` is one GET/MGET, `set_many` one pipeline (optionally carrying a PUBLISH)."""

    name = "l2"

    def __init__(self, client: Redis | RedisCluster, *, prefix: str, clock_time: Callable[[], float]) -> None:
        self.client = client
        self.prefix = prefix
        self._now = clock_time
        self.is_cluster = isinstance(client, RedisCluster)
        if not self.is_cluster and client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the cache needs a Redis client with decode_responses=False (values are bytes)")

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
        items: list[tuple[str, bytes, float]],
        *,
        only_if_absent: bool = False,
        overwrite: Collection[str] = (),
        publish: tuple[str, bytes] | None = None,
    ) -> None:
        if len(items) == 1 and publish is None:
            key, payload, deadline = items[0]
            nx = only_if_absent and key not in overwrite
            await self.client.set(key, pack(payload, deadline), px=self._px(deadline), nx=nx)
            return
        pipe = self.client.pipeline(transaction=False)
        for key, payload, deadline in items:
            nx = only_if_absent and key not in overwrite
            pipe.set(key, pack(payload, deadline), px=self._px(deadline), nx=nx)
        if publish is not None:
            pipe.publish(*publish)
        await pipe.execute()

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
        if publish is not None:
            pipe.publish(*publish)
        await pipe.execute()

    async def clear(self, publish: tuple[str, bytes] | None = None) -> None:
        batch: list[Any] = []
        async for key in self.client.scan_iter(match=_escape_glob(self.prefix) + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await self._unlink(batch)
                batch = []
        if batch:
            await self._unlink(batch)
        if publish is not None:
            await self.client.publish(*publish)

    async def _unlink(self, keys: list[Any]) -> None:
        if self.is_cluster:
            pipe = self.client.pipeline()
            for key in keys:
                pipe.unlink(key)
            await pipe.execute()
        else:
            await self.client.unlink(*keys)

    async def aclose(self) -> None:
        await self.client.aclose()
