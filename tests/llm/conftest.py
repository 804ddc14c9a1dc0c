"""Shared helpers for the LLM tests: a tiny single-flight dict cache and a sleep recorder."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


class DictCache:
    """The `AsyncCache` protocol on a dict, with single-flight loading (like HierarchicalCache)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.ttls: dict[str, float | None] = {}
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    async def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.data[key] = value
        self.ttls[key] = ttl

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def get_or_compute(
        self, key: str, loader: Callable[[], Awaitable[T]], ttl: float | None = None
    ) -> T:
        if key in self.data:
            return self.data[key]  # type: ignore[no-any-return]
        if key in self._inflight:
            return await self._inflight[key]  # type: ignore[no-any-return]
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            value = await loader()
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved
            raise
        finally:
            self._inflight.pop(key, None)
        await self.set(key, value, ttl)
        fut.set_result(value)
        return value


class SleepRecorder:
    """Stands in for asyncio.sleep in the client: records the waits, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def dict_cache() -> DictCache:
    return DictCache()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()
