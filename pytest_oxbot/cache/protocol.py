"""The small async cache surface the other components code against (HierarchicalCache implements it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class AsyncCache(Protocol):
    """What the market client, the LLM client and the decision cycle need from a cache."""

    async def get(self, key: str, default: Any = None) -> Any: ...

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def get_or_compute(
        self, key: str, loader: Callable[[], Awaitable[T]], ttl: float | None = None
    ) -> T: ...
