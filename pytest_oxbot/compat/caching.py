"""The guide's `PerformanceCache(redis_client)` and `AdvancedCacheStrategy()`: the real three-tier cache.

The guide's stack is "local (30 s) -> Redis (5 min) -> database". Given a Redis client, this builds
exactly that over `HierarchicalCache`; the third tier is your database when you pass `engine=` (from
`pytest_oxbot.connections.make_engine`), else an in-process SQLite database, so a single process gets
the full read path without a server. Backends this class made itself are closed by `aclose()`; the
client you passed is left open for you.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from sqlalchemy.ext.asyncio import AsyncEngine

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.cache.stats import CacheStats
from pytest_oxbot.clock import Clock
from pytest_oxbot.connections import make_engine, make_fake_redis
from pytest_oxbot.errors import CacheError

__all__ = ["DEFAULT_TTL", "AdvancedCacheStrategy", "PerformanceCache"]

DEFAULT_TTL = 300.0
"""The guide's `set_with_ttl` default (LLM_CACHE_TTL_SECONDS)."""


class PerformanceCache:
    """0xBot's `PerformanceCache`: get with a fallback, set with a TTL, the hit rate (0..1).

    `PerformanceCache(redis_client)` builds L1 memory (30 s) -> L2 that Redis (5 min) -> L3 SQL;
    `PerformanceCache(cache)` wraps a `HierarchicalCache` you built yourself.
    """

    def __init__(
        self,
        redis_client: Redis | RedisCluster | HierarchicalCache | None = None,
        engine: AsyncEngine | None = None,
        *,
        clock: Clock | None = None,
        namespace: str = "oxbot",
        l1_ttl: float = 30.0,
        l2_ttl: float = 300.0,
        default_ttl: float = DEFAULT_TTL,
    ) -> None:
        self.default_ttl = default_ttl
        self._made: list[Any] = []
        if isinstance(redis_client, HierarchicalCache):
            if engine is not None:
                raise CacheError("pass engine= only with a Redis client, not with a HierarchicalCache")
            self.cache = redis_client
            return
        if redis_client is not None and not isinstance(redis_client, Redis | RedisCluster):
            raise CacheError(
                f"PerformanceCache takes a redis.asyncio client (or a HierarchicalCache), not "
                f"{type(redis_client).__name__}; build one with pytest_oxbot.connections.make_redis_client"
            )
        redis = redis_client if redis_client is not None else self._own(make_fake_redis())
        sql = engine if engine is not None else self._own(make_engine("sqlite+aiosqlite://"))
        self.cache = HierarchicalCache(
            redis, sql, clock=clock, namespace=namespace, l1_ttl=l1_ttl, l2_ttl=l2_ttl
        )

    def _own(self, backend: Any) -> Any:
        self._made.append(backend)
        return backend

    async def get_with_fallback(self, key: str, fallback: Any = None, ttl: float | None = None) -> Any:
        """The cached value; on a miss, the fallback's.

        A callable fallback (sync or async) is called once however many callers miss together, and its
        result is cached for `ttl` (default 300 s); an awaitable is awaited and cached the same way; any
        other value (None included) is returned as the default and not cached.
        """
        if callable(fallback) or inspect.isawaitable(fallback):

            async def load() -> Any:
                result = fallback() if callable(fallback) else fallback
                return await result if inspect.isawaitable(result) else result

            return await self.cache.get_or_compute(key, load, ttl=self.default_ttl if ttl is None else ttl)
        return await self.cache.get(key, fallback)

    async def set_with_ttl(self, key: str, value: Any, ttl: float = DEFAULT_TTL) -> None:
        """Store `value` in every tier for `ttl` seconds (each tier keeps it at most its own TTL)."""
        await self.cache.set(key, value, ttl=ttl)

    def get_cache_hit_rate(self) -> float:
        """Hits / lookups over every tier, as a ratio (0.85 means 85 %)."""
        return self.cache.hit_rate

    async def get(self, key: str, default: Any = None) -> Any:
        """L1 -> L2 -> L3, promoting what a lower tier had."""
        return await self.cache.get(key, default)

    async def delete(self, key: str) -> None:
        await self.cache.delete(key)

    def stats(self) -> CacheStats:
        return self.cache.stats()

    async def aclose(self) -> None:
        """Close the cache and the backends this object made (never the client you passed)."""
        await self.cache.aclose()
        for backend in reversed(self._made):
            closer: Callable[[], Awaitable[Any]] | None = getattr(backend, "aclose", None) or getattr(
                backend, "dispose", None
            )
            if closer is not None:
                await closer()
        self._made.clear()

    async def __aenter__(self) -> PerformanceCache:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class AdvancedCacheStrategy(PerformanceCache):
    """0xBot's `AdvancedCacheStrategy()`: `await get(key)` reads L1 -> L2 -> L3 with promotion.

    With no arguments the tiers are embedded (memory, fakeredis, in-process SQLite); pass a Redis client
    and an engine to use your servers.
    """
