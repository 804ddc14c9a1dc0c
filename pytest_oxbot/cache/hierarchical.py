"""HierarchicalCache: L1 memory -> L2 Redis -> L3 SQL, write-through, coherent across processes.

Rules (see docs/cache.md for the why of each):
- Read L1 -> L2 -> L3; a value found lower is promoted into the tiers above it with the *destination*
  tier's TTL, never beyond the value's own remaining life.
- `set(key, v, ttl)` writes every tier; each tier keeps it min(tier TTL, ttl) seconds.
- Writes go L3 first, then L2 together with the invalidation message (one pipeline), so a reader in
  another process can never promote a value older than the invalidation it already received.
- A failing tier is skipped (counted, logged by type only) and retried after `retry_interval`; keys
  written or deleted while it was down are deleted from it before it is used again.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from sqlalchemy.ext.asyncio import AsyncEngine

from ..clock import Clock, SystemClock
from ..connections import make_engine, make_fake_redis, make_redis_client
from ..errors import CacheError
from .codec import DEFAULT_CODEC, Codec
from .invalidation import InvalidationListener, encode_message
from .memory import MemoryTier
from .redis_tier import _HEADER, RedisTier, unpack
from .sql_tier import DEFAULT_TABLE, SqlTier
from .stats import CacheStats, TierStats
from .tiers import NO_DEADLINE, Stored

T = TypeVar("T")
log = logging.getLogger(__name__)
_MISSING: Any = object()
_MAX_DIRTY = 10_000
_MAX_TOUCHED = 100_000


class CacheBackendError(CacheError):
    """A tier failed and the cache was built with `strict=True`."""


@dataclass
class _Health:
    """Circuit state of one shared tier, and the keys it missed while down."""

    up: bool = True
    retry_at: float = 0.0
    dirty: set[str] = field(default_factory=set)
    overflow: bool = False

    def mark_dirty(self, keys: Iterable[str]) -> None:
        if self.overflow:
            return
        self.dirty.update(keys)
        if len(self.dirty) > _MAX_DIRTY:
            self.dirty.clear()
            self.overflow = True  # too many to remember: clear the whole namespace on recovery


def _is_fake_redis(client: Any) -> bool:
    return type(client).__module__.startswith("fakeredis")


class HierarchicalCache:
    """An async, typed, namespaced three-tier cache; every tier but L1 is optional."""

    def __init__(
        self,
        redis: Redis | RedisCluster | None = None,
        engine: AsyncEngine | None = None,
        *,
        clock: Clock | None = None,
        namespace: str = "oxbot",
        version: int | str = 1,
        l1: bool = True,
        l1_ttl: float = 30.0,
        l1_max_entries: int = 10_000,
        l1_max_bytes: int = 64 * 1024 * 1024,
        l2_ttl: float = 300.0,
        l3_ttl: float | None = 86_400.0,
        table: str = DEFAULT_TABLE,
        codec: Codec | None = None,
        strict: bool = False,
        retry_interval: float = 1.0,
        sql_timeout: float = 5.0,
        distributed_lock: bool | None = None,
        lock_timeout: float = 10.0,
        tombstone_ttl: float = 5.0,
        subscribe_timeout: float = 2.0,
        trust_l1_offline: bool = False,
        owns_backends: bool = False,
    ) -> None:
        if not namespace or any(c.isspace() for c in namespace):
            raise ValueError(f"namespace must be a non-empty word, got {namespace!r}")
        for name, ttl in (("l1_ttl", l1_ttl), ("l2_ttl", l2_ttl), ("l3_ttl", l3_ttl)):
            if ttl is not None and ttl <= 0:
                raise ValueError(f"{name} must be > 0, got {ttl}")
        self.clock: Clock = clock or SystemClock()
        self.namespace = namespace
        self.version = version
        self.prefix = f"{namespace}:v{version}:"
        self.codec = codec or DEFAULT_CODEC
        self.strict = strict
        self.l1_ttl = l1_ttl
        self.l2_ttl = l2_ttl
        self.l3_ttl = NO_DEADLINE if l3_ttl is None else l3_ttl
        self.retry_interval = retry_interval
        self.sql_timeout = sql_timeout
        self.lock_timeout = lock_timeout
        self.tombstone_ttl = tombstone_ttl
        self.subscribe_timeout = subscribe_timeout
        self._owns = owns_backends
        # True: keep using L1 while the invalidation channel is down (a lone process, where no one
        # else can write); False: bypass it, since other processes' writes would go unnoticed.
        self.trust_l1_offline = trust_l1_offline
        self.origin = uuid.uuid4().hex

        self._l1 = MemoryTier(max_entries=l1_max_entries, max_bytes=l1_max_bytes) if l1 else None
        self._l2 = (
            RedisTier(redis, prefix=self.prefix, clock_time=self.clock.time) if redis is not None else None
        )
        self._l3 = SqlTier(engine, prefix=self.prefix, table=table) if engine is not None else None
        self._distributed_lock = (
            (redis is not None and not _is_fake_redis(redis))
            if distributed_lock is None
            else distributed_lock
        )
        self.channel = f"oxbot:invalidate:{self.prefix}"
        self._listener: InvalidationListener | None = None
        if self._l1 is not None and redis is not None:
            self._listener = InvalidationListener(
                redis,
                self.channel,
                self.origin,
                on_keys=self._on_remote_keys,
                on_flush=self._on_remote_flush,
                on_state=self._on_channel_state,
            )
        # L1 is trusted only while nothing can have changed behind its back.
        self._l1_live = self._l1 is not None and (self._listener is None or trust_l1_offline)
        self._listener_loop: asyncio.AbstractEventLoop | None = None

        self._stats = CacheStats()
        self._tier_stats: dict[str, TierStats] = {}
        if self._l1 is not None:
            self._tier_stats["l1"] = TierStats("l1")
        self._health: dict[str, _Health] = {}
        for tier in (self._l2, self._l3):
            if tier is not None:
                self._tier_stats[tier.name] = TierStats(tier.name)
                self._health[tier.name] = _Health()
        self._l1_stats = self._tier_stats.get("l1", TierStats("l1"))

        # Guards promotion into L1 against a write/invalidation that lands while a read is in flight.
        self._seq = 0
        self._flush_seq = 0
        self._touched: dict[str, int] = {}
        self._reads_in_flight = 0
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    # ------------------------------------------------------------------ constructors
    @classmethod
    def memory_only(cls, *, clock: Clock | None = None, **kwargs: Any) -> HierarchicalCache:
        """Just L1: no Redis, no database (e.g. a market-data client on a laptop)."""
        return cls(None, None, clock=clock, **kwargs)

    @classmethod
    def in_memory(cls, *, clock: Clock | None = None, sql: bool = False, **kwargs: Any) -> HierarchicalCache:
        """The embedded defaults: L1 + fakeredis L2 (+ an in-memory SQLite L3 when `sql`)."""
        engine = make_engine("sqlite+aiosqlite://") if sql else None
        return cls(make_fake_redis(), engine, clock=clock, owns_backends=True, **kwargs)

    @classmethod
    async def connect(
        cls,
        redis_url: str | None = None,
        database_url: str | None = None,
        *,
        clock: Clock | None = None,
        cluster: bool = False,
        socket_timeout: float = 2.0,
        **kwargs: Any,
    ) -> HierarchicalCache:
        """Build on URLs: no `redis_url` means fakeredis; no `database_url` means no L3.

        `cluster=True` (or a `redis+cluster://` URL) uses a Redis Cluster client. Nothing is contacted
        here: a server that is down degrades the cache instead of failing the bot's start-up.
        """
        redis: Redis | RedisCluster
        if redis_url is None:
            redis = make_fake_redis()
        else:
            redis = make_redis_client(redis_url, cluster=cluster, socket_timeout=socket_timeout)
        engine = make_engine(database_url) if database_url else None
        return cls(redis, engine, clock=clock, owns_backends=True, **kwargs)

    def _l1_hit(self, fk: str) -> Any:
        """The L1 value of a full key counted as a hit, or `_MISSING` (the hot path: no await)."""
        if not self._l1_live:
            return _MISSING
        value = self._l1.get(fk, self.clock.time(), _MISSING)  # type: ignore[union-attr]
        if value is not _MISSING:
            self._stats.lookups += 1
            self._stats.hits += 1
            self._l1_stats.hits += 1
        return value

    # ------------------------------------------------------------------ public API
    async def get(self, key: str, default: Any = None) -> Any:
        """The cached value, or `default` on a miss (in every tier, or every reachable one)."""
        fk = self.prefix + key
        value = self._l1_hit(fk)
        if value is not _MISSING:
            return value
        found = await self._lookup([fk], skip_l1=self._l1_live)
        return found.get(fk, default)

    async def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The found keys and their values; one round trip per tier for all of them."""
        wanted = list(dict.fromkeys(keys))
        found = await self._lookup([self.prefix + k for k in wanted])
        n = len(self.prefix)
        return {fk[n:]: v for fk, v in found.items()}

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Write through every tier; each keeps it min(tier TTL, `ttl`) seconds."""
        await self.set_many({key: value}, ttl=ttl)

    async def set_many(self, mapping: Mapping[str, Any], ttl: float | None = None) -> None:
        """Write several keys: one pipeline to Redis, one statement to the database."""
        if ttl is not None and not ttl > 0:
            raise ValueError(f"ttl must be > 0 seconds (or None for the tiers' TTLs), got {ttl}")
        if not mapping:
            return
        await self._ensure_started()
        cap = math.inf if ttl is None else ttl
        now = self.clock.time()
        encoded = [(self.prefix + k, v, self.codec.dumps(v)) for k, v in mapping.items()]
        fks = [fk for fk, _, _ in encoded]
        self._touch(fks)
        if self._l1 is not None:
            if self._l1_live:
                d1 = now + min(self.l1_ttl, cap)
                for fk, v, p in encoded:
                    self._l1.set(fk, v, d1, len(p), now)
            else:
                for fk in fks:
                    self._l1.delete(fk)
        if self._l3 is not None:
            d3 = now + min(self.l3_ttl, cap)
            items3 = [(fk, p, d3) for fk, _, p in encoded]
            await self._write(self._l3, fks, self._l3.set_many, items3)
        if self._l2 is not None:
            d2 = now + min(self.l2_ttl, cap)
            items2 = [(fk, p, d2) for fk, _, p in encoded]
            await self._write(self._l2, fks, self._l2.set_many, items2, publish=self._message(fks))

    async def delete(self, key: str) -> None:
        """Remove a key from every tier and from every other process's L1."""
        await self.delete_many([key])

    async def delete_many(self, keys: Iterable[str]) -> None:
        fks = [self.prefix + k for k in dict.fromkeys(keys)]
        if not fks:
            return
        await self._ensure_started()
        self._touch(fks)
        if self._l1 is not None:
            for fk in fks:
                self._l1.delete(fk)
        if self._l3 is not None:
            await self._write(self._l3, fks, self._l3.delete_many, fks)
        if self._l2 is not None:
            # A tombstone, not a DEL: a reader that fetched the old value from L3 just before cannot
            # promote it back into L2 (promotion never overwrites).
            await self._write(
                self._l2,
                fks,
                self._l2.delete_many,
                fks,
                tombstone_until=self.clock.time() + self.tombstone_ttl,
                publish=self._message(fks),
            )

    async def clear(self) -> None:
        """Flush this namespace+version in every tier and in every other process's L1."""
        await self._ensure_started()
        self._flush_l1()
        if self._l3 is not None:
            await self._clear_tier(self._l3, self._l3.clear)
        if self._l2 is not None:
            msg = (self.channel, encode_message(self.origin, flush=True))
            await self._clear_tier(self._l2, self._l2.clear, publish=msg)

    async def get_or_compute(
        self, key: str, loader: Callable[[], Awaitable[T]], ttl: float | None = None
    ) -> T:
        """The cached value, or the loader's (stored with `ttl`); concurrent misses share one load.

        In this process, concurrent callers of one key wait for a single loader call and all get its
        result or its exception (an error is not cached). Across processes a short Redis lock does the
        same when L2 is a real server: the lock holder loads, the others find its value.
        """
        fk = self.prefix + key
        value = self._l1_hit(fk)
        if value is not _MISSING:
            return value  # type: ignore[no-any-return]
        if fk in self._inflight:  # a load of this key is under way: wait for it, no round trip
            self._stats.lookups += 1
            self._l1_stats.misses += self._l1_live
        else:
            found = await self._lookup([fk], skip_l1=self._l1_live)
            if fk in found:
                return found[fk]  # type: ignore[no-any-return]
        while True:
            pending = self._inflight.get(fk)
            if pending is None:
                return await self._lead(fk, key, loader, ttl)
            self._stats.coalesced += 1
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if pending.cancelled() and not (task is not None and task.cancelling()):
                    continue  # the leader was cancelled, not us: load it ourselves
                raise

    @property
    def hit_rate(self) -> float:
        """Overall hits / lookups (the `cache_hit_rate` KPI)."""
        return self._stats.hit_rate

    def stats(self) -> CacheStats:
        """A snapshot of the counters (overall and per tier)."""
        tiers = {}
        for name, ts in self._tier_stats.items():
            health = self._health.get(name)
            tiers[name] = replace(ts, up=True if health is None else health.up)
        snap = replace(self._stats, tiers=tiers)
        if self._l1 is not None:
            snap.l1_entries, snap.l1_bytes, snap.l1_evictions = (
                len(self._l1),
                self._l1.nbytes,
                self._l1.evictions,
            )
        return snap

    def reset_stats(self) -> None:
        self._stats = CacheStats()
        for name in list(self._tier_stats):
            self._tier_stats[name] = TierStats(name)
        self._l1_stats = self._tier_stats.get("l1", TierStats("l1"))

    @property
    def l1_live(self) -> bool:
        """Whether L1 is in use (False while the invalidation channel is not subscribed)."""
        return self._l1_live

    @property
    def memory(self) -> MemoryTier | None:
        return self._l1

    async def sync_invalidations(self, within: float = 1.0) -> bool:
        """Wait until every invalidation published before this call has reached this process's L1.

        Redis delivers messages of one channel in order, so our own ping coming back means everything
        published before it was handled. Returns False when the channel is down (L1 is bypassed then).
        """
        if self._listener is None or self._l2 is None:
            return True
        await self._ensure_started()
        if not self._listener.live:
            return False
        token = uuid.uuid4().hex
        fut = self._listener.register_ping(token)
        try:
            await self._l2.publish(self.channel, encode_message(self.origin, ping=token))
            await asyncio.wait_for(fut, within)
            return True
        except Exception:
            return False
        finally:
            self._listener.forget_ping(token)

    async def purge_expired(self) -> int:
        """Delete expired rows of this namespace from L3 (Redis expires keys itself)."""
        if self._l3 is None:
            return 0
        ok, n = await self._call(self._l3, self._l3.purge_expired, self.clock.time())
        return int(n) if ok else 0

    async def aclose(self) -> None:
        """Stop the invalidation listener; close the clients this cache created."""
        if self._listener is not None:
            await self._listener.aclose()
        self._l1_live = self._l1 is not None and (self._listener is None or self.trust_l1_offline)
        self._listener_loop = None
        if self._owns:
            for tier in (self._l2, self._l3):
                if tier is not None:
                    with contextlib.suppress(Exception):
                        await tier.aclose()

    async def __aenter__(self) -> HierarchicalCache:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ read path
    async def _lookup(self, fks: list[str], *, skip_l1: bool = False, count: bool = True) -> dict[str, Any]:
        """Look keys up tier by tier, promoting what lower tiers hold (the hot path: kept flat)."""
        if self._listener is not None and self._listener_loop is not asyncio.get_running_loop():
            await self._ensure_started()
        now = self.clock.time()
        found: dict[str, Any] = {}
        missing = fks
        l1 = self._l1
        if l1 is not None and self._l1_live:
            if skip_l1:  # the caller already looked (and missed)
                if count:
                    self._l1_stats.misses += len(fks)
            else:
                missing = []
                for fk in fks:
                    value = l1.get(fk, now, _MISSING)
                    if value is _MISSING:
                        missing.append(fk)
                    else:
                        found[fk] = value
                self._l1_stats.hits += len(found)
                self._l1_stats.misses += len(missing)
        if missing and (self._l2 is not None or self._l3 is not None):
            start = self._seq
            promote_l1: list[tuple[str, Any, float, int]] = []
            dead_in_l2: builtins.set[str] = builtins.set()
            self._reads_in_flight += 1
            try:
                for tier in (self._l2, self._l3):
                    if tier is None or not missing:
                        continue
                    if self._health[tier.name].up and tier is self._l2:
                        # Inlined `_call` for the common case (one coroutine frame less per read).
                        t0 = time.perf_counter()
                        try:
                            if len(missing) == 1:  # a plain GET, without the batching wrapper
                                raw: Any = await tier.client.get(missing[0])
                            else:
                                raw, entries = None, await tier.get_many(missing)
                        except Exception as exc:
                            self._fault(tier, self._health[tier.name], exc)
                            if self.strict:
                                raise CacheBackendError(
                                    f"cache tier {tier.name} failed: {type(exc).__name__}"
                                ) from exc
                            continue
                        stats = self._tier_stats["l2"]
                        stats.observe(time.perf_counter() - t0)
                        if len(missing) == 1:
                            if raw is None:
                                entries = {}
                            else:  # the common hit, decoded here without `_take`'s bookkeeping
                                fk = missing[0]
                                deadline = _HEADER.unpack_from(raw)[0]
                                if deadline > now and len(raw) > _HEADER.size:
                                    payload = raw[_HEADER.size :]
                                    try:
                                        value = self.codec.loads(payload)
                                    except ValueError:
                                        value = _MISSING  # `_take` counts and logs it
                                    if value is not _MISSING:
                                        found[fk] = value
                                        stats.hits += 1
                                        if l1 is not None:
                                            deadline = min(now + self.l1_ttl, deadline)
                                            promote_l1.append((fk, value, deadline, len(payload)))
                                        missing = []
                                        continue
                                entries = {fk: unpack(raw)}
                    else:
                        ok, entries = await self._call(tier, tier.get_many, missing)
                        if not ok:
                            continue
                    missing, promote_l2 = self._take(
                        tier, missing, entries, found, promote_l1, dead_in_l2, now
                    )
                    if promote_l2 and self._l2 is not None:
                        await self._call(
                            self._l2, self._l2.set_many, promote_l2, only_if_absent=True, overwrite=dead_in_l2
                        )
                # Promote only what no write or invalidation touched since this read began (checked
                # before `finally` forgets the touches).
                if promote_l1 and l1 is not None and self._l1_live and self._flush_seq <= start:
                    touched = self._touched
                    for fk, value, deadline, size in promote_l1:
                        if touched.get(fk, 0) <= start:
                            l1.set(fk, value, deadline, size, now)
            finally:
                self._reads_in_flight -= 1
                if not self._reads_in_flight and self._touched:
                    self._touched.clear()
        if count:
            self._stats.lookups += len(fks)
            self._stats.hits += len(found)
        return found

    def _take(
        self,
        tier: RedisTier | SqlTier,
        missing: list[str],
        entries: dict[str, Stored],
        found: dict[str, Any],
        promote_l1: list[tuple[str, Any, float, int]],
        dead_in_l2: builtins.set[str],
        now: float,
    ) -> tuple[list[str], list[tuple[str, bytes, float]]]:
        """Decode what `tier` returned into `found`: (keys still missing, L3 hits to promote into L2)."""
        stats = self._tier_stats[tier.name]
        still: list[str] = []
        promote_l2: list[tuple[str, bytes, float]] = []
        for fk in missing:
            entry = entries.get(fk)
            if entry is None or entry.deadline <= now:
                still.append(fk)
                if entry is not None and tier is self._l2:
                    # Redis still holds it but our clock says it is dead (fake clock, skew):
                    # promotion may overwrite it; anything else is only written if absent.
                    dead_in_l2.add(fk)
                continue
            payload = entry.payload
            if not payload:  # a tombstone: deleted moments ago, an authoritative miss
                stats.misses += 1
                continue
            try:
                value = self.codec.loads(payload)
            except ValueError as exc:
                stats.errors += 1
                log.warning("undecodable cache entry in %s (%s); treated as a miss", tier.name, exc)
                still.append(fk)
                continue
            found[fk] = value
            stats.hits += 1
            if self._l1 is not None:
                promote_l1.append((fk, value, min(now + self.l1_ttl, entry.deadline), len(payload)))
            if tier is self._l3 and self._l2 is not None:
                promote_l2.append((fk, payload, min(now + self.l2_ttl, entry.deadline)))
        stats.misses += len(still)
        return still, promote_l2

    # ------------------------------------------------------------------ loads
    async def _lead(self, fk: str, key: str, loader: Callable[[], Awaitable[T]], ttl: float | None) -> T:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[fk] = fut
        try:
            value = await self._load(fk, key, loader, ttl)
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
            if self._inflight.get(fk) is fut:
                del self._inflight[fk]

    async def _load(self, fk: str, key: str, loader: Callable[[], Awaitable[T]], ttl: float | None) -> T:
        lock = None
        if self._distributed_lock and self._l2 is not None:
            candidate = self._l2.client.lock(
                f"{self.prefix}__lock__:{key}",
                timeout=self.lock_timeout,
                sleep=0.005,
                blocking_timeout=self.lock_timeout,
            )
            ok, acquired = await self._call(self._l2, candidate.acquire)
            if ok and acquired:
                lock = candidate
                again = await self._lookup([fk], skip_l1=True, count=False)
                if fk in again:  # another process loaded it while we waited for the lock
                    await self._release(lock)
                    return again[fk]  # type: ignore[no-any-return]
        try:
            self._stats.loads += 1
            try:
                value = await loader()
            except Exception:
                self._stats.load_errors += 1
                raise
            await self.set(key, value, ttl)
            return value
        finally:
            if lock is not None:
                await self._release(lock)

    async def _release(self, lock: Any) -> None:
        with contextlib.suppress(Exception):  # expired or Redis gone: the lock times out by itself
            await lock.release()

    # ------------------------------------------------------------------ tier plumbing
    async def _call(
        self, tier: RedisTier | SqlTier, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> tuple[bool, Any]:
        """Run one tier operation; (False, None) when the tier is down or fails (unless strict)."""
        health = self._health[tier.name]
        if not health.up and not await self._recover(tier, health):
            if self.strict:
                raise CacheBackendError(f"cache tier {tier.name} is down")
            return False, None
        t0 = time.perf_counter()
        try:
            if tier is self._l3:
                async with asyncio.timeout(self.sql_timeout):
                    result = await fn(*args, **kwargs)
            else:
                result = await fn(*args, **kwargs)
        except Exception as exc:
            self._fault(tier, health, exc)
            if self.strict:
                raise CacheBackendError(f"cache tier {tier.name} failed: {type(exc).__name__}") from exc
            return False, None
        self._tier_stats[tier.name].observe(time.perf_counter() - t0)
        return True, result

    async def _recover(self, tier: RedisTier | SqlTier, health: _Health) -> bool:
        """After the retry interval, first repair what the tier missed, then use it again."""
        if self.clock.monotonic() < health.retry_at:
            return False
        try:
            if health.overflow:
                await tier.clear()
            elif health.dirty:
                await tier.delete_many(sorted(health.dirty))
            else:
                await tier.get_many([self.prefix + "__probe__"])
        except Exception as exc:
            self._fault(tier, health, exc)
            return False
        health.dirty.clear()
        health.overflow = False
        health.up = True
        log.info("cache tier %s is back", tier.name)
        return True

    def _fault(self, tier: RedisTier | SqlTier, health: _Health, exc: BaseException) -> None:
        self._tier_stats[tier.name].errors += 1
        if health.up:
            log.warning(
                "cache tier %s failed (%s); serving from the other tiers", tier.name, type(exc).__name__
            )
        health.up = False
        health.retry_at = self.clock.monotonic() + self.retry_interval

    async def _write(
        self,
        tier: RedisTier | SqlTier,
        fks: list[str],
        fn: Callable[..., Awaitable[Any]],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        ok, _ = await self._call(tier, fn, *args, **kwargs)
        if not ok:
            self._health[tier.name].mark_dirty(fks)

    async def _clear_tier(
        self, tier: RedisTier | SqlTier, fn: Callable[..., Awaitable[Any]], **kwargs: Any
    ) -> None:
        ok, _ = await self._call(tier, fn, **kwargs)
        if not ok:
            health = self._health[tier.name]
            health.dirty.clear()
            health.overflow = True

    def _message(self, fks: list[str]) -> tuple[str, bytes] | None:
        # Published even by a cache without L1: other processes' L1s must still hear about it.
        if self._l2 is None:
            return None
        return self.channel, encode_message(self.origin, keys=fks)

    # ------------------------------------------------------------------ coherence
    async def _ensure_started(self) -> None:
        if self._listener is None:
            return
        loop = asyncio.get_running_loop()
        if self._listener_loop is not loop:
            self._listener_loop = loop
            await self._listener.start(self.subscribe_timeout)

    def _touch(self, fks: Iterable[str]) -> None:
        self._seq += 1
        if self._reads_in_flight:
            if len(self._touched) > _MAX_TOUCHED:
                self._flush_seq = self._seq
                self._touched.clear()
                return
            for fk in fks:
                self._touched[fk] = self._seq

    def _flush_l1(self) -> None:
        self._seq += 1
        self._flush_seq = self._seq
        self._touched.clear()
        if self._l1 is not None:
            self._l1.clear()

    def _on_remote_keys(self, fks: list[str]) -> None:
        self._stats.invalidations_received += 1
        self._touch(fks)
        if self._l1 is not None:
            for fk in fks:
                self._l1.delete(fk)

    def _on_remote_flush(self) -> None:
        self._stats.invalidations_received += 1
        self._flush_l1()

    def _on_channel_state(self, live: bool) -> None:
        self._flush_l1()
        if not live and self._l1_live:
            self._stats.l1_flushes += 1
        self._l1_live = (live or self.trust_l1_offline) and self._l1 is not None
