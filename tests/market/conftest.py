"""Shared helpers of the market tests: a tiny dict-based AsyncCache and a client wired to a FakeExchange."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START, FakeExchange
from pytest_oxbot.market import MarketDataClient

T = TypeVar("T")


class DictCache:
    """The smallest AsyncCache: TTLs on a FakeClock, and a log of what was stored with which TTL."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.data: dict[str, tuple[Any, float | None]] = {}
        self.sets: list[tuple[str, float | None]] = []

    async def get(self, key: str, default: Any = None) -> Any:
        hit = self.data.get(key)
        if hit is None:
            return default
        value, expires = hit
        if expires is not None and self.clock.time() >= expires:
            del self.data[key]
            return default
        return value

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.sets.append((key, ttl))
        self.data[key] = (value, None if ttl is None else self.clock.time() + ttl)

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def get_or_compute(
        self, key: str, loader: Callable[[], Awaitable[T]], ttl: float | None = None
    ) -> T:
        missing = object()
        value = await self.get(key, missing)
        if value is not missing:
            return value  # type: ignore[no-any-return]
        value = await loader()
        await self.set(key, value, ttl)
        return value


class SleepLog:
    """An injected sleep: records each requested delay and moves the replay clock by it (no real wait)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.advance(seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(DEFAULT_REPLAY_START)


@pytest.fixture
def exchange(clock: FakeClock) -> Iterator[FakeExchange]:
    with FakeExchange(clock=clock) as ex:
        yield ex


@pytest.fixture
def sleeps(clock: FakeClock) -> SleepLog:
    return SleepLog(clock)


@pytest.fixture
def cache(clock: FakeClock) -> DictCache:
    return DictCache(clock)


@pytest_asyncio.fixture
async def client(clock: FakeClock, sleeps: SleepLog, cache: DictCache) -> AsyncIterator[MarketDataClient]:
    async with MarketDataClient(clock=clock, sleep=sleeps, cache=cache, rng=random.Random(7)) as c:
        yield c
