"""HierarchicalCache: L1 memory -> L2 Redis -> L3 SQL, write-through, coherent across processes.

Rules (see docs/cache.md for the why of each, and its "Guarantees" for what holds under which fault):
- Read L1 -> L2 -> L3; a value found lower is promoted into the tiers above it with the *destination*
  tier's TTL, never beyond the value's own remaining life. A copy from L3 into L2 never overwrites a
  newer entry (SET NX) and is checked against L3 afterwards: if L3 changed meanwhile, the copy is
  removed, so an evicted tombstone cannot bring a deleted value back.
- `set(key, v, ttl)` writes every tier; each tier keeps it min(tier TTL, ttl) seconds.
- Writes go L3 first, then L2 together with the invalidation message (one pipeline), so a reader in
  another process can never promote a value older than the invalidation it already received.
- Every L2/L3 call goes through that tier's guard (`guard.py`): failures, retry, repair, strict mode.
  L1's trust and what may enter it are `coherence.py`'s; concurrent loads are `singleflight.py`'s.
- An entry a tier returns that cannot be decoded is a miss of that key only, counted per tier.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from sqlalchemy.ext.asyncio import AsyncEngine

from .._tasks import stop
from ..clock import Clock, SystemClock
from ..connections import eviction_policy, make_engine, make_fake_redis, make_redis_client
from .codec import DEFAULT_CODEC, Codec
from .coherence import CoherencePolicy, L1Coherence, PromotionFence
from .errors import CacheUsageError, CodecError
from .guard import FaultPolicy, TierGuard
from .invalidation import encode_message
from .memory import MemoryTier
from .reads import Findings, copy_into_l2
from .redis_tier import RedisTier
from .singleflight import LockPolicy, RedisLocks, SingleFlight
from .sql_tier import DEFAULT_TABLE, SqlTier
from .stats import CacheStats, TierStats
from .tiers import NO_DEADLINE, Stored

if TYPE_CHECKING:
    from .protocol import AsyncCache

T = TypeVar("T")
log = logging.getLogger(__name__)
_MISSING: Any = object()


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
        codec: Codec | None = None,
        l1: bool = True,
        l1_ttl: float = 30.0,
        l2_ttl: float = 300.0,
        l3_ttl: float | None = 86_400.0,
        l1_max_entries: int = 10_000,
        l1_max_bytes: int = 64 * 1024 * 1024,
        table: str = DEFAULT_TABLE,
        faults: FaultPolicy | None = None,
        coherence: CoherencePolicy | None = None,
        locks: LockPolicy | None = None,
        owns_backends: bool = False,
    ) -> None:
        """`faults`, `coherence` and `locks` group the knobs of those concepts (see their classes);
        `owns_backends=True` makes `aclose()` close the Redis client and the engine too."""
        if not namespace or any(c.isspace() for c in namespace):
            raise CacheUsageError(f"namespace must be a non-empty word, got {namespace!r}")
        for name, ttl in (("l1_ttl", l1_ttl), ("l2_ttl", l2_ttl), ("l3_ttl", l3_ttl)):
            if ttl is not None and not ttl > 0:
                raise CacheUsageError(f"{name} must be > 0 seconds, got {ttl}")
        self.clock: Clock = clock or SystemClock()
        self.namespace = namespace
        self.version = version
        self.prefix = f"{namespace}:v{version}:"
        self.codec = codec or DEFAULT_CODEC
        self.l1_ttl = l1_ttl
        self.l2_ttl = l2_ttl
        self.l3_ttl = NO_DEADLINE if l3_ttl is None else l3_ttl
        self.faults = faults or FaultPolicy()
        self.coherence = coherence or CoherencePolicy()
        self.locks = locks or LockPolicy()
        self.origin = uuid.uuid4().hex
        self.channel = f"oxbot:invalidate:{self.prefix}"
        self._owns = owns_backends

        self._stats = CacheStats()
        self._l1_stats = TierStats("l1")
        self._l1_fast_hits = 0  # L1 hits of `get`/`get_or_compute`, folded into the stats when read
        self._time = time.time if type(self.clock) is SystemClock else self.clock.time
        self._l1 = (
            MemoryTier(max_entries=l1_max_entries, max_bytes=l1_max_bytes, clock=self._time) if l1 else None
        )
        self._l2: TierGuard[RedisTier] | None = None
        self._l3: TierGuard[SqlTier] | None = None
        if redis is not None:
            self._l2 = TierGuard(
                RedisTier(redis, prefix=self.prefix, clock_time=self._time),
                stats=TierStats("l2"),
                clock=self.clock,
                policy=self.faults,
                probe_key=self.prefix + "__probe__",
                repair=self._repair_l2,
                flush=self._flush_l2,
            )
        if engine is not None:
            self._l3 = TierGuard(
                SqlTier(engine, prefix=self.prefix, table=table),
                stats=TierStats("l3"),
                clock=self.clock,
                policy=self.faults,
                probe_key=self.prefix + "__probe__",
                timeout=self.faults.sql_timeout,
            )

        # L1 is trusted only while nothing can have changed behind its back; mirrored in `_l1_live`
        # for the hot path.
        self._l1_live = False
        self._coherence: L1Coherence | None = None
        if self._l1 is not None:
            self._coherence = L1Coherence(
                self._l1,
                redis,
                channel=self.channel,
                origin=self.origin,
                policy=self.coherence,
                on_trust=self._trust_l1,
            )
        self._flight = SingleFlight()
        distributed = self.locks.distributed
        if distributed is None:
            distributed = redis is not None and not _is_fake_redis(redis)
        self._locks = (
            RedisLocks(self._l2, prefix=self.prefix, timeout=self.locks.timeout)
            if distributed and self._l2 is not None
            else None
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: builtins.set[asyncio.Task[None]] = builtins.set()
        self._eviction_policy: str | None = None
        self._eviction_checked = False

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

    # ------------------------------------------------------------------ public API
    def _l1_hit(self, fk: str) -> Any:
        """The L1 value of a full key counted as a hit, or `_MISSING` (the hot path: no await).

        One counter for the hit (added to lookups, hits and L1's hits when stats are read) and the
        clock read without a Python frame when it is the system's: this path is ~150 ns in all.
        """
        if not self._l1_live:
            return _MISSING
        value = self._l1.get(fk, self._time(), _MISSING)  # type: ignore[union-attr]
        if value is not _MISSING:
            self._l1_fast_hits += 1
        return value

    async def get(self, key: str, default: Any = None) -> Any:
        """The cached value, or `default` on a miss (in every tier, or every reachable one)."""
        fk = self.prefix + key
        value = self._l1_hit(fk)
        if value is not _MISSING:
            return value
        value = await self._read_one(fk)
        return default if value is _MISSING else value

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
            raise CacheUsageError(f"ttl must be > 0 seconds (or None for the tiers' TTLs), got {ttl}")
        if not mapping:
            return
        await self._ensure_started()
        cap = math.inf if ttl is None else ttl
        now = self._time()
        encoded = [(self.prefix + k, v, self.codec.dumps(v)) for k, v in mapping.items()]
        fks = [fk for fk, _, _ in encoded]
        if self._coherence is not None:
            self._coherence.written(fks)
            l1 = self._coherence.l1
            if self._l1_live:
                d1 = now + min(self.l1_ttl, cap)
                for fk, v, p in encoded:
                    l1.set(fk, v, d1, len(p), now)
            else:
                for fk in fks:
                    l1.delete(fk)
        if self._l3 is not None:
            d3 = now + min(self.l3_ttl, cap)
            l3 = self._l3
            await l3.write(fks, l3.tier.set_many, [(fk, Stored(p, d3)) for fk, _, p in encoded])
        if self._l2 is not None:
            d2 = now + min(self.l2_ttl, cap)
            l2 = self._l2
            items = [(fk, Stored(p, d2)) for fk, _, p in encoded]
            await l2.write(fks, l2.tier.set_many, items, publish=self._message(fks))

    async def delete(self, key: str) -> None:
        """Remove a key from every tier and from every other process's L1."""
        await self.delete_many([key])

    async def delete_many(self, keys: Iterable[str]) -> None:
        fks = [self.prefix + k for k in dict.fromkeys(keys)]
        if not fks:
            return
        await self._ensure_started()
        if self._coherence is not None:
            self._coherence.written(fks)
            for fk in fks:
                self._coherence.l1.delete(fk)
        if self._l3 is not None:  # first: a concurrent promotion re-reads L3 after copying into L2
            await self._l3.write(fks, self._l3.tier.delete_many, fks)
        if self._l2 is not None:
            # A tombstone, not a DEL: a reader that fetched the old value from L3 just before cannot
            # promote it back into L2 (promotion never overwrites).
            l2 = self._l2
            until = self._time() + self.coherence.tombstone_ttl
            await l2.write(fks, l2.tier.delete_many, fks, tombstone_until=until, publish=self._message(fks))

    async def clear(self) -> None:
        """Flush this namespace+version in every tier and in every other process's L1."""
        await self._ensure_started()
        if self._coherence is not None:
            self._coherence.flush()
        if self._l3 is not None:
            await self._l3.write_all(self._l3.tier.clear)
        if self._l2 is not None:
            await self._l2.write_all(self._l2.tier.clear, publish=self._flush_message())

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
        if self._flight.loading(fk):  # a load of this key is under way: wait for it, no round trip
            self._stats.lookups += 1
            self._l1_stats.misses += self._l1_live
        else:
            value = await self._read_one(fk)
            if value is not _MISSING:
                return value  # type: ignore[no-any-return]
        return await self._flight.run(fk, lambda: self._load(fk, key, loader, ttl), self._coalesced)

    @property
    def hit_rate(self) -> float:
        """Overall hits / lookups (the `cache_hit_rate` KPI)."""
        hits = self._l1_fast_hits
        lookups = self._stats.lookups + hits
        return (self._stats.hits + hits) / lookups if lookups else 0.0

    def stats(self) -> CacheStats:
        """A snapshot of the counters (overall and per tier)."""
        fast = self._l1_fast_hits
        tiers: dict[str, TierStats] = {}
        if self._l1 is not None:
            tiers["l1"] = replace(self._l1_stats, hits=self._l1_stats.hits + fast)
        for guard in self._guards():
            tiers[guard.name] = replace(guard.stats, up=guard.up)
        snap = replace(
            self._stats, tiers=tiers, lookups=self._stats.lookups + fast, hits=self._stats.hits + fast
        )
        snap.eviction_policy = self._eviction_policy
        if self._locks is not None:
            snap.lock_lost = self._locks.lost
        coherence = self._coherence
        if coherence is not None:
            snap.invalidations_received = coherence.invalidations_received
            snap.l1_flushes = coherence.flushes
            if coherence.listener is not None:
                snap.heartbeat_misses = coherence.listener.heartbeat_misses
                snap.stray_messages = coherence.listener.stray_messages
            l1 = coherence.l1
            snap.l1_entries, snap.l1_bytes, snap.l1_evictions = len(l1), l1.nbytes, l1.evictions
        return snap

    def reset_stats(self) -> None:
        """Zero every counter (the L2 server's eviction policy, a fact, is kept)."""
        warnings = self._stats.eviction_warnings
        self._stats = CacheStats(eviction_warnings=warnings)
        self._l1_stats = TierStats("l1")
        self._l1_fast_hits = 0
        for guard in self._guards():
            guard.stats = TierStats(guard.name)
        if self._coherence is not None:
            self._coherence.reset_counters()
        if self._locks is not None:
            self._locks.lost = 0

    @property
    def l1_live(self) -> bool:
        """Whether L1 is in use (False while the invalidation channel is not subscribed and alive)."""
        return self._l1_live

    @property
    def memory(self) -> MemoryTier | None:
        """L1 (None when built with `l1=False`)."""
        return self._l1

    @property
    def distributed_lock(self) -> bool:
        """Whether `get_or_compute` takes the cross-process Redis lock (see `LockPolicy`)."""
        return self._locks is not None

    @property
    def redis(self) -> Redis | RedisCluster | None:
        """The Redis client behind L2 (None without L2)."""
        return None if self._l2 is None else self._l2.tier.client

    def tier_guard(self, name: str) -> TierGuard[Any]:
        """The guard of a shared tier ("l2" or "l3"): its health, and the tier it wraps (`faults.py`)."""
        guard = {"l2": self._l2, "l3": self._l3}.get(name)
        if guard is None:
            raise CacheUsageError(f"this cache has no tier {name!r} (its shared tiers: {self._names()})")
        return guard

    async def sync_invalidations(self, within: float = 1.0) -> bool:
        """Wait until every invalidation published before this call has reached this process's L1.

        Returns False when the channel is down (L1 is bypassed then); True without L1 or Redis.
        """
        if self._coherence is None or self._l2 is None:
            return True
        l2 = self._l2
        return await self._coherence.sync(lambda channel, msg: l2.tier.publish(channel, msg), within)

    async def purge_expired(self) -> int:
        """Delete expired rows of this namespace from L3 (Redis expires keys itself)."""
        if self._l3 is None:
            return 0
        ok, n = await self._l3.call(self._l3.tier.purge_expired, self._time())
        return int(n) if ok else 0

    async def aclose(self) -> None:
        """Stop the background tasks; close the clients this cache created."""
        tasks, self._tasks = self._tasks, builtins.set()
        await stop(tasks)
        if self._coherence is not None:
            await self._coherence.aclose()
        for guard in self._guards():
            await guard.aclose()
        self._loop = None
        if self._owns:
            for guard in self._guards():
                with contextlib.suppress(Exception):
                    await guard.tier.aclose()

    async def __aenter__(self) -> HierarchicalCache:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ read path
    async def _read_one(self, fk: str) -> Any:
        """One key below L1 (the caller looked there), or `_MISSING`: an L2 hit is one GET, one decode.

        The common read, so the GET is awaited here rather than in `_lookup` (each level of an await
        chain is resumed again every time the read suspends) and a plain hit skips the bookkeeping of
        `Findings`. Anything else (a miss, a tombstone, junk, a failure) goes the batch path's way.
        """
        l2 = self._l2
        if l2 is None or not l2.up or self._loop is not asyncio.get_running_loop():
            looked_up = await self._lookup([fk], skip_l1=self._l1_live)
            return looked_up.get(fk, _MISSING)
        stats = self._stats
        stats.lookups += 1
        fence = None
        if self._l1_live:
            self._l1_stats.misses += 1
            fence = self._coherence.fence  # type: ignore[union-attr]
        start = 0 if fence is None else fence.begin()
        try:
            now = self._time()
            t0 = time.perf_counter()
            try:
                raw = await l2.tier.fetch(fk)
            except Exception as exc:
                l2.failed(exc)  # counted, circuit opened; raises in strict mode
                entries = None
            else:
                l2.observe(time.perf_counter() - t0)
                if raw is None:
                    entries = {}
                else:
                    entry = l2.tier.unpack(raw)
                    payload, deadline = entry
                    if deadline > now and payload:
                        try:
                            value = self.codec.loads(payload)
                        except CodecError:
                            pass  # `Findings.take` below counts and logs it
                        else:
                            l2.stats.hits += 1
                            stats.hits += 1
                            if fence is not None and self._l1_live and fence.allows(fk, start):
                                d1 = min(now + self.l1_ttl, deadline)
                                self._l1.set(fk, value, d1, len(payload), now)  # type: ignore[union-attr]
                            return value
                    entries = {fk: entry}
            findings = self._findings(now, into_l1=fence is not None)
            missing = [fk]
            if entries is not None:
                missing = findings.take(l2.stats, missing, entries, l2=True)
            if missing and self._l3 is not None:
                await self._read_l3(self._l3, missing, findings)
            self._promote_l1(findings, fence, start)
        finally:
            if fence is not None:
                fence.end()
        stats.hits += len(findings.found)
        return findings.found.get(fk, _MISSING)

    async def _lookup(self, fks: list[str], *, skip_l1: bool = False, count: bool = True) -> dict[str, Any]:
        """Look keys up tier by tier (one round trip per tier), promoting what lower tiers hold."""
        if self._loop is not asyncio.get_running_loop():
            await self._ensure_started()
        now = self._time()
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
            # Only a read that began while L1 was trusted may promote into it, and only what no write
            # or invalidation touched meanwhile.
            fence = self._coherence.fence if self._coherence is not None and self._l1_live else None
            start = 0 if fence is None else fence.begin()
            findings = self._findings(now, into_l1=fence is not None)
            findings.found = found
            try:
                l2 = self._l2
                if l2 is not None:
                    ok, entries = await l2.call(l2.tier.get_many, missing)
                    if ok:
                        missing = findings.take(l2.stats, missing, entries, l2=True)
                if self._l3 is not None and missing:
                    await self._read_l3(self._l3, missing, findings)
                self._promote_l1(findings, fence, start)
            finally:
                if fence is not None:
                    fence.end()
        if count:
            self._stats.lookups += len(fks)
            self._stats.hits += len(found)
        return found

    def _findings(self, now: float, *, into_l1: bool) -> Findings:
        return Findings(
            self.codec,
            now,
            l1_ttl=self.l1_ttl,
            l2_ttl=self.l2_ttl,
            into_l1=into_l1,
            into_l2=self._l2 is not None,
        )

    async def _read_l3(self, l3: TierGuard[SqlTier], missing: list[str], findings: Findings) -> None:
        """Look `missing` up in L3, and copy what it holds into L2 (checked against L3 afterwards)."""
        ok, entries = await l3.call(l3.tier.get_many, missing)
        if not ok:
            return
        findings.take(l3.stats, missing, entries, l2=False)
        if findings.promote_l2 and self._l2 is not None:
            undone = await copy_into_l2(
                self._l2, l3, findings.promote_l2, overwrite=findings.dead_in_l2, message=self._message
            )
            if undone:
                self._stats.promotions_reverted += len(undone)
                findings.forget(undone)

    def _promote_l1(self, findings: Findings, fence: PromotionFence | None, start: int) -> None:
        """Copy values read below into L1, unless their key was written or invalidated meanwhile."""
        l1 = self._l1
        if not findings.promote_l1 or fence is None or l1 is None or not self._l1_live:
            return
        now = findings.now
        for fk, value, deadline, size in findings.promote_l1:
            if fence.allows(fk, start):
                l1.set(fk, value, deadline, size, now)

    # ------------------------------------------------------------------ loads
    def _coalesced(self) -> None:
        self._stats.coalesced += 1

    async def _load(self, fk: str, key: str, loader: Callable[[], Awaitable[T]], ttl: float | None) -> T:
        lock = None if self._locks is None else await self._locks.acquire(key)
        try:
            if lock is not None:
                again = await self._lookup([fk], skip_l1=True, count=False)
                if fk in again:  # another process loaded it while we waited for the lock
                    return again[fk]  # type: ignore[no-any-return]
            self._stats.loads += 1
            try:
                value = await loader()
            except Exception:
                self._stats.load_errors += 1
                raise
            await self.set(key, value, ttl)
            return value
        finally:
            if lock is not None and self._locks is not None:
                await self._locks.release(lock)

    # ------------------------------------------------------------------ plumbing
    def _guards(self) -> list[TierGuard[Any]]:
        return [g for g in (self._l2, self._l3) if g is not None]

    def _names(self) -> str:
        return ", ".join(g.name for g in self._guards()) or "none"

    def _trust_l1(self, trusted: bool) -> None:
        self._l1_live = trusted and self._l1 is not None

    def _message(self, fks: list[str]) -> tuple[str, bytes] | None:
        # Published even by a cache without L1: other processes' L1s must still hear about it.
        if self._l2 is None:
            return None
        return self.channel, encode_message(self.origin, keys=fks)

    def _flush_message(self) -> tuple[str, bytes]:
        return self.channel, encode_message(self.origin, flush=True)

    async def _repair_l2(self, tier: RedisTier, fks: list[str]) -> None:
        """Remove keys L2 missed writes or deletes of, and tell the other processes' L1s."""
        await tier.delete_many(fks, publish=self._message(fks))

    async def _flush_l2(self, tier: RedisTier) -> None:
        await tier.clear(publish=self._flush_message())

    async def _ensure_started(self) -> None:
        """Per event loop: subscribe the invalidation channel; once: read L2's eviction policy."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        if self._l2 is not None and not self._eviction_checked:
            self._spawn(self._check_eviction_policy())
        if self._coherence is not None:
            await self._coherence.start()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check_eviction_policy(self) -> None:
        """Under an `allkeys-*` policy Redis may evict any key: fine for cached values (a miss), but
        say so once, since locks and tombstones are keys too (see docs/cache.md, "Eviction")."""
        assert self._l2 is not None
        policy = await eviction_policy(self._l2.tier.client)
        self._eviction_checked = True
        self._eviction_policy = policy
        if policy is not None and policy.startswith("allkeys-"):
            self._stats.eviction_warnings += 1
            log.warning(
                "the cache's Redis runs maxmemory-policy %s: it may evict any key, so cached values can "
                "vanish early (each one a counted miss); single-flight locks and delete tombstones "
                "degrade safely (see docs/cache.md, Eviction)",
                policy,
            )


if TYPE_CHECKING:

    def _implements_the_protocol(cache: HierarchicalCache) -> AsyncCache:
        return cache
