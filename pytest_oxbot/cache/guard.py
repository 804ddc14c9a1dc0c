"""The guard around one shared tier: health (a circuit), retry, repair of what it missed, strict mode.

Every call the cache makes to L2 or L3 goes through the tier's guard. A call that fails marks the tier
down (the error is counted, and logged once by exception type only: URLs and values never reach the
log); the tier is then skipped until `retry_interval` seconds of the cache's clock have passed. Keys
written or deleted while it was down are remembered as dirty, and removed from it before it is used
again (past `MAX_DIRTY` of them the namespace is flushed instead), so a tier that comes back never
serves a value older than what the other tiers hold. While there is something to repair, a background
task retries the repair every `retry_interval` seconds (at least `MIN_REPAIR_PERIOD`) until it
succeeds: a delete that could not reach the tier reaches it as soon as the tier answers, whether or
not this process uses the cache meanwhile. `strict=True` raises `CacheBackendError` instead.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .._tasks import stop
from ..clock import Clock
from .errors import CacheBackendError, CacheUsageError
from .stats import TierStats
from .tiers import Stored, Tier

log = logging.getLogger(__name__)
T = TypeVar("T", bound="Tier[Stored]")
MAX_DIRTY = 10_000
MIN_REPAIR_PERIOD = 0.05


@dataclass(frozen=True)
class FaultPolicy:
    """What the cache does when Redis or the database fails.

    strict: raise `CacheBackendError` instead of serving from the other tiers.
    retry_interval: seconds (of the cache's clock) before a failed tier is tried again; also the
        period of the background repair.
    sql_timeout: bound on every L3 call, in seconds.
    """

    strict: bool = False
    retry_interval: float = 1.0
    sql_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.retry_interval < math.inf:
            raise CacheUsageError(f"retry_interval must be >= 0 and finite, got {self.retry_interval}")
        if not 0 < self.sql_timeout < math.inf:
            raise CacheUsageError(f"sql_timeout must be > 0 and finite, got {self.sql_timeout}")


class TierGuard(Generic[T]):
    """Health, retry, repair and strict mode for one tier. `tier` may be swapped (see `faults.py`)."""

    def __init__(
        self,
        tier: T,
        *,
        stats: TierStats,
        clock: Clock,
        policy: FaultPolicy,
        probe_key: str,
        timeout: float | None = None,
        repair: Callable[[T, list[str]], Awaitable[object]] | None = None,
        flush: Callable[[T], Awaitable[object]] | None = None,
    ) -> None:
        """`repair(tier, keys)` removes keys the tier missed (default: `delete_many`); `flush(tier)`
        removes the whole namespace (default: `clear`)."""
        self.tier = tier
        self.name = tier.name
        self.stats = stats
        self.up = True
        self._clock = clock
        self._policy = policy
        self._probe_key = probe_key
        self._timeout = timeout
        self._repair_keys = repair or (lambda t, keys: t.delete_many(keys))
        self._flush = flush or (lambda t: t.clear())
        self._retry_at = 0.0
        self._dirty: set[str] = set()
        self._overflow = False
        self._repairing: asyncio.Future[bool] | None = None  # the repair in flight, for others to await
        self._repairer: asyncio.Task[None] | None = None

    @property
    def strict(self) -> bool:
        return self._policy.strict

    @property
    def pending_repair(self) -> bool:
        """Whether writes or deletes are waiting to be repaired in the tier."""
        return self._overflow or bool(self._dirty)

    # -- calls ------------------------------------------------------------------------------------
    async def call(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        """Run one tier operation: (True, result), or (False, None) when the tier is down or fails."""
        if not self.up and not await self.recover():
            if self._policy.strict:
                raise CacheBackendError(f"cache tier {self.name} is down")
            return False, None
        t0 = time.perf_counter()
        try:
            if self._timeout is None:
                result = await fn(*args, **kwargs)
            else:
                async with asyncio.timeout(self._timeout):
                    result = await fn(*args, **kwargs)
        except Exception as exc:
            self.failed(exc)
            return False, None
        self.stats.observe(time.perf_counter() - t0)
        return True, result

    async def write(
        self, keys: Iterable[str], fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> bool:
        """`call` for a write or delete of `keys`: on failure the keys are remembered for repair."""
        try:
            ok, _ = await self.call(fn, *args, **kwargs)
        except CacheBackendError:
            self.missed(keys)
            raise
        if not ok:
            self.missed(keys)
        return ok

    async def write_all(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> bool:
        """`call` for a namespace flush: on failure the whole namespace is flushed on repair."""
        try:
            ok, _ = await self.call(fn, *args, **kwargs)
        except CacheBackendError:
            self.missed_all()
            raise
        if not ok:
            self.missed_all()
        return ok

    def observe(self, seconds: float) -> None:
        """Record a successful round trip made outside `call` (the cache's single-key read path)."""
        self.stats.observe(seconds)

    def failed(self, exc: BaseException) -> None:
        """Record a failure: count it, mark the tier down; in strict mode raise `CacheBackendError`."""
        self._fault(exc)
        if self._policy.strict:
            raise CacheBackendError(f"cache tier {self.name} failed: {type(exc).__name__}") from exc

    def _fault(self, exc: BaseException) -> None:
        self.stats.errors += 1
        if self.up:
            log.warning(
                "cache tier %s failed (%s); serving from the other tiers", self.name, type(exc).__name__
            )
        self.up = False
        self._retry_at = self._clock.monotonic() + self._policy.retry_interval

    # -- repair -----------------------------------------------------------------------------------
    def missed(self, keys: Iterable[str]) -> None:
        """The tier missed writes or deletes of `keys`: remove them from it before it serves again."""
        if not self._overflow:
            self._dirty.update(keys)
            if len(self._dirty) > MAX_DIRTY:  # too many to remember: flush the namespace instead
                self._dirty.clear()
                self._overflow = True
        self._schedule_repair()

    def missed_all(self) -> None:
        """The tier missed a namespace flush: flush it before it serves again."""
        self._dirty.clear()
        self._overflow = True
        self._schedule_repair()

    async def recover(self) -> bool:
        """After the retry interval, repair what the tier missed, then use it again."""
        if self._clock.monotonic() < self._retry_at:
            return False
        return await self._repair()

    async def _repair(self) -> bool:
        """Repair (or probe) the tier; a caller arriving while a repair runs waits for its outcome."""
        loop = asyncio.get_running_loop()
        running = self._repairing
        if running is not None and not running.done() and running.get_loop() is loop:
            return await asyncio.shield(running)
        done: asyncio.Future[bool] = loop.create_future()
        self._repairing = done
        ok = False
        try:
            ok = await self._repair_now()
        finally:
            done.set_result(ok)  # also when cancelled: the others see "not repaired", not our cancel
            if self._repairing is done:
                self._repairing = None
        return ok

    async def _repair_now(self) -> bool:
        while True:
            overflow, dirty = self._overflow, self._dirty
            self._overflow, self._dirty = False, set()
            try:
                await self._bounded(self._repair_once(overflow, dirty))
            except Exception as exc:
                if overflow:
                    self._overflow = True
                    self._dirty.clear()
                elif dirty:
                    self._dirty |= dirty
                self._fault(exc)
                return False
            if not self.pending_repair:  # nothing missed while this repair ran
                break
        self.up = True
        log.info("cache tier %s is back", self.name)
        return True

    async def _repair_once(self, overflow: bool, dirty: set[str]) -> None:
        if overflow:
            await self._flush(self.tier)
        elif dirty:
            await self._repair_keys(self.tier, sorted(dirty))
        else:
            await self.tier.get_many([self._probe_key])

    async def _bounded(self, work: Awaitable[None]) -> None:
        if self._timeout is None:
            await work
        else:
            async with asyncio.timeout(self._timeout):
                await work

    def _schedule_repair(self) -> None:
        loop = asyncio.get_running_loop()
        task = self._repairer
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._repairer = loop.create_task(
            self._repair_in_background(), name=f"oxbot-cache-repair:{self.name}"
        )

    async def _repair_in_background(self) -> None:
        period = max(self._policy.retry_interval, MIN_REPAIR_PERIOD)
        while not self.up or self.pending_repair:
            await asyncio.sleep(period)
            if self.up and not self.pending_repair:
                return  # a foreground call repaired it
            await self._repair()

    async def aclose(self) -> None:
        """Stop the background repair (what is still dirty stays unrepaired: see docs/cache.md)."""
        task, self._repairer = self._repairer, None
        if task is not None:
            await stop([task])  # skipped if its loop is gone (pytest runs each test on a new loop)
