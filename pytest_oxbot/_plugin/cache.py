"""pytest wiring for the cache: `oxbot_cache` on the test's backends and fake clock, KPI at teardown."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from pytest_oxbot._plugin.kpi_sink import report

# The cache (redis, SQLAlchemy) is imported by the fixture, not by every pytest run.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from pytest_oxbot.cache import HierarchicalCache
    from pytest_oxbot.clock import FakeClock

CacheFactory = Callable[..., "HierarchicalCache"]


@pytest_asyncio.fixture
async def oxbot_cache_factory(
    oxbot_redis: Any, oxbot_db: AsyncEngine, oxbot_clock: FakeClock, oxbot_key_prefix: str
) -> AsyncIterator[CacheFactory]:
    """Build caches on this test's backends (e.g. two "processes" sharing one Redis); closed at teardown."""
    from pytest_oxbot.cache import HierarchicalCache

    made: list[HierarchicalCache] = []

    def factory(**kwargs: Any) -> HierarchicalCache:
        kwargs.setdefault("clock", oxbot_clock)
        kwargs.setdefault("namespace", oxbot_key_prefix)
        redis = kwargs.pop("redis", oxbot_redis)
        engine = kwargs.pop("engine", oxbot_db)
        cache = HierarchicalCache(redis, engine, **kwargs)
        made.append(cache)
        return cache

    yield factory
    async with contextlib.AsyncExitStack() as stack:  # every cache is closed even if one close raises
        for cache in made:
            stack.push_async_callback(cache.aclose)


@pytest_asyncio.fixture
async def oxbot_cache(
    request: pytest.FixtureRequest, oxbot_cache_factory: CacheFactory
) -> AsyncIterator[HierarchicalCache]:
    """A HierarchicalCache on `oxbot_redis` + `oxbot_db`, driven by `oxbot_clock`.

    At teardown its overall hit rate is reported as the `cache_hit_rate` KPI if any lookup happened.
    """
    cache = oxbot_cache_factory()
    yield cache
    stats = cache.stats()
    if stats.lookups:
        report(request.node, "cache_hit_rate", stats.hit_rate, source="cache")
