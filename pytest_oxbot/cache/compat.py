"""The names the 0xBot code and docs use, as thin adapters over `HierarchicalCache`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .hierarchical import HierarchicalCache


class PerformanceCache:
    """0xBot's `PerformanceCache`: get-or-load, set with a TTL, and the hit rate (0..1)."""

    def __init__(self, cache: HierarchicalCache | None = None) -> None:
        self.cache = cache if cache is not None else HierarchicalCache.memory_only()

    async def get_with_fallback(
        self, key: str, fallback_func: Callable[[], Any], ttl: float | None = None
    ) -> Any:
        """The cached value, else `fallback_func()` (sync or async), cached; concurrent misses load once."""

        async def load() -> Any:
            result = fallback_func()
            return await result if inspect.isawaitable(result) else result

        return await self.cache.get_or_compute(key, load, ttl=ttl)

    async def set_with_ttl(self, key: str, value: Any, ttl: float) -> None:
        await self.cache.set(key, value, ttl=ttl)

    def get_cache_hit_rate(self) -> float:
        """Hits / lookups over every tier, as a ratio (0.85 means 85 %)."""
        return self.cache.hit_rate

    async def get(self, key: str, default: Any = None) -> Any:
        return await self.cache.get(key, default)

    async def delete(self, key: str) -> None:
        await self.cache.delete(key)


class AdvancedCacheStrategy(PerformanceCache):
    """0xBot's `AdvancedCacheStrategy`: `get(key)` reads L1 -> L2 -> L3 with promotion."""
