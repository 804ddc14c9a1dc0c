"""Concurrent misses of one key share one load: in this process always, across processes by a Redis lock.

In this process the first caller loads and the others wait for its result or its exception (an error
is not cached); cancelling the loading caller does not cancel the others: one of them takes over.
Across processes a short Redis lock (redis-py's `Lock`) does the same: the holder loads, the others find
its value when it is released. The lock is a plain key: it can expire or be evicted while held (an
`allkeys-*` Redis), and then a second process loads too. That is the worst case, counted as
`lock_lost`: a loader runs twice, never more per lost lock, and no caller fails because of it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError

from .errors import CacheUsageError
from .guard import TierGuard
from .redis_tier import RedisTier

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockPolicy:
    """The cross-process single-flight lock of `get_or_compute`.

    distributed: use the Redis lock; None means on a real Redis only (fakeredis lives in one process).
    timeout: the lock's TTL, and how long a waiter waits for it, in seconds.
    """

    distributed: bool | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.timeout < math.inf:
            raise CacheUsageError(f"lock timeout must be > 0 seconds and finite, got {self.timeout}")


class SingleFlight:
    """One load per key at a time in this process; every concurrent caller gets its outcome."""

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    def loading(self, key: str) -> bool:
        return key in self._inflight

    async def run(self, key: str, load: Callable[[], Awaitable[T]], on_wait: Callable[[], None]) -> T:
        """`load()`'s result, shared with every caller of `key` that arrives while it runs."""
        while True:
            pending = self._inflight.get(key)
            if pending is None:
                return await self._lead(key, load)
            on_wait()
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if pending.cancelled() and not (task is not None and task.cancelling()):
                    continue  # the leader was cancelled, not us: load it ourselves
                raise

    async def _lead(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            value = await load()
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        else:
            fut.set_result(value)
            return value
        finally:
            if self._inflight.get(key) is fut:
                del self._inflight[key]


class RedisLocks:
    """Acquire and release the per-key Redis lock through L2's guard (a down Redis means no lock)."""

    def __init__(self, guard: TierGuard[RedisTier], *, prefix: str, timeout: float) -> None:
        self._guard = guard
        self._prefix = prefix
        self._timeout = timeout
        self.lost = 0

    async def acquire(self, key: str) -> Lock | None:
        """The held lock of `key`, or None (Redis down, or no lock within the timeout: load anyway)."""
        name = f"{self._prefix}__lock__:{key}"

        async def take() -> Lock | None:
            lock = self._guard.tier.lock(name, timeout=self._timeout)
            return lock if await lock.acquire() else None

        ok, lock = await self._guard.call(take)
        return lock if ok else None

    async def release(self, lock: Lock) -> None:
        try:
            await lock.release()
        except LockNotOwnedError:
            # Expired or evicted while we loaded: another process may have loaded too.
            self.lost += 1
            log.info("a cache single-flight lock was lost while its holder loaded (expired or evicted)")
        except Exception:  # noqa: S110 - Redis gone: the lock times out by itself
            pass
