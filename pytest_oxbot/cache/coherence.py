"""This process's L1 against the other processes' writes: when L1 may be trusted, and what may enter it.

Two mechanisms (the why of each is in docs/cache.md, "Coherence between processes"):
- the invalidation listener (`invalidation.py`): other processes' writes, deletes and flushes drop
  keys from L1; while the channel is not proved alive, L1 is cleared and bypassed;
- the promotion fence: a value read from a shared tier enters L1 only if no write or invalidation of
  its key (and no flush) landed while the read was in flight, since the value may predate it.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from .errors import CacheUsageError
from .invalidation import InvalidationListener, encode_message
from .memory import MemoryTier

_MAX_TOUCHED = 100_000


@dataclass(frozen=True)
class CoherencePolicy:
    """How the cache keeps processes' views of a key consistent.

    subscribe_timeout: how long the first call waits for the invalidation channel (L1 is bypassed
        until it is subscribed).
    heartbeat_interval, heartbeat_timeout: the channel's liveness check; L1 is trusted at most their
        sum after the channel last proved it delivers.
    tombstone_ttl: how long a delete's marker stays in L2 (it stops a concurrent reader's promotion
        from L3 bringing the old value back).
    trust_l1_offline: keep serving L1 while the channel is down (only for a lone process: other
        processes' writes would go unnoticed).
    """

    subscribe_timeout: float = 2.0
    heartbeat_interval: float = 1.0
    heartbeat_timeout: float = 1.0
    tombstone_ttl: float = 5.0
    trust_l1_offline: bool = False

    def __post_init__(self) -> None:
        for name in ("subscribe_timeout", "heartbeat_interval", "heartbeat_timeout", "tombstone_ttl"):
            value = getattr(self, name)
            if not 0 < value < math.inf:
                raise CacheUsageError(f"{name} must be > 0 seconds and finite, got {value}")


class PromotionFence:
    """Sequence numbers that tell whether a key was written or invalidated while a read was in flight."""

    __slots__ = ("_flush_seq", "_reads", "_seq", "_touched")

    def __init__(self) -> None:
        self._seq = 0
        self._flush_seq = 0
        self._touched: dict[str, int] = {}
        self._reads = 0

    def begin(self) -> int:
        """A read from a shared tier starts; returns its start mark."""
        self._reads += 1
        return self._seq

    def end(self) -> None:
        self._reads -= 1
        if not self._reads and self._touched:
            self._touched.clear()

    def allows(self, fk: str, start: int) -> bool:
        """May a value of `fk` read since `start` enter L1?"""
        return self._flush_seq <= start and self._touched.get(fk, 0) <= start

    def touch(self, fks: Iterable[str]) -> None:
        self._seq += 1
        if self._reads:
            if len(self._touched) > _MAX_TOUCHED:  # too many to track: fence off everything in flight
                self._flush_seq = self._seq
                self._touched.clear()
                return
            for fk in fks:
                self._touched[fk] = self._seq

    def flush(self) -> None:
        self._seq += 1
        self._flush_seq = self._seq
        self._touched.clear()


class L1Coherence:
    """Owns L1's trust: the listener, the fence, and the state the cache mirrors for its hot path."""

    def __init__(
        self,
        l1: MemoryTier,
        client: Redis | RedisCluster | None,
        *,
        channel: str,
        origin: str,
        policy: CoherencePolicy,
        on_trust: Callable[[bool], None],
    ) -> None:
        self.l1 = l1
        self.fence = PromotionFence()
        self.policy = policy
        self.channel = channel
        self.origin = origin
        self._on_trust = on_trust
        self.invalidations_received = 0
        self.flushes = 0
        self.listener: InvalidationListener | None = None
        if client is not None:
            self.listener = InvalidationListener(
                client,
                channel,
                origin,
                on_keys=self._on_remote_keys,
                on_flush=self._on_remote_flush,
                on_state=self._on_channel_state,
                heartbeat_interval=policy.heartbeat_interval,
                heartbeat_timeout=policy.heartbeat_timeout,
                subscribe_timeout=policy.subscribe_timeout,
            )
        self._loop: asyncio.AbstractEventLoop | None = None
        self.trusted = self._trusted_offline()
        on_trust(self.trusted)

    def _trusted_offline(self) -> bool:
        return self.listener is None or self.policy.trust_l1_offline

    @property
    def live(self) -> bool:
        """Whether the invalidation channel is subscribed and proved alive (True without Redis)."""
        return self.listener is None or self.listener.live

    async def start(self) -> None:
        """Subscribe on the running loop (once per loop: pytest gives each test a new one)."""
        loop = asyncio.get_running_loop()
        if self.listener is not None and self._loop is not loop:
            self._loop = loop
            await self.listener.start(self.policy.subscribe_timeout)

    def started_on(self, loop: asyncio.AbstractEventLoop) -> bool:
        return self.listener is None or self._loop is loop

    # -- local writes -----------------------------------------------------------------------------
    def written(self, fks: Iterable[str]) -> None:
        """This process wrote or deleted the keys: fence off reads in flight."""
        self.fence.touch(fks)

    def flush(self) -> None:
        self.fence.flush()
        self.l1.flush()

    # -- what the channel reports -----------------------------------------------------------------
    def _on_remote_keys(self, fks: list[str]) -> None:
        self.invalidations_received += 1
        self.fence.touch(fks)
        for fk in fks:
            self.l1.delete(fk)

    def _on_remote_flush(self) -> None:
        self.invalidations_received += 1
        self.flush()

    def _on_channel_state(self, live: bool) -> None:
        self.flush()
        if not live and self.trusted:
            self.flushes += 1
        self.trusted = live or self._trusted_offline()
        self._on_trust(self.trusted)

    async def sync(self, publish: Callable[[str, bytes], Awaitable[object]], within: float) -> bool:
        """Wait until every invalidation published before this call has been handled here.

        Redis delivers one channel's messages in order, so our own ping coming back means everything
        published before it was handled. False when the channel is down (L1 is bypassed then).
        """
        if self.listener is None:
            return True
        await self.start()
        if not self.listener.live:
            return False
        token = uuid.uuid4().hex
        fut = self.listener.register_ping(token)
        try:
            await publish(self.channel, encode_message(self.origin, ping=token))
            await asyncio.wait_for(fut, within)
            return True
        except Exception:
            return False
        finally:
            self.listener.forget_ping(token)

    def reset_counters(self) -> None:
        self.invalidations_received = 0
        self.flushes = 0
        if self.listener is not None:
            self.listener.heartbeat_misses = 0
            self.listener.stray_messages = 0

    async def aclose(self) -> None:
        if self.listener is not None:
            await self.listener.aclose()
        self._loop = None
        self.trusted = self._trusted_offline()
        self._on_trust(self.trusted)
