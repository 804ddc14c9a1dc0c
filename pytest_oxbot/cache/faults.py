"""Fault injection for tests of code that uses the cache: take a tier down, or cut a TCP link.

`outage(cache, "l2")` makes one tier fail like a dropped connection, whatever the backend (fakeredis,
SQLite, a real server): the tier's guard sees exactly what a real failure would give it. `TcpProxy`
sits between a client and a real server on 127.0.0.1 and can cut every connection and refuse new
ones, which exercises the drivers' real error paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import CacheError
from .errors import CacheUsageError
from .hierarchical import HierarchicalCache
from .tiers import Stored

if TYPE_CHECKING:
    from .tiers import Tier


class TierDown(CacheError, ConnectionError):
    """Raised by a tier that a test took down."""


class FaultyTier:
    """Wraps a shared tier; while `down`, every operation raises `TierDown`.

    The `Tier` protocol's methods are wrapped explicitly; a tier's own round trips (L2's `fetch`,
    `publish`, `lock`, ...) through `__getattr__`. The Redis client itself (`client`) is not wrapped.
    """

    def __init__(self, tier: Any) -> None:
        self.inner = tier
        self.name: str = tier.name
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise TierDown(f"{self.name} is down (injected)")

    async def get_many(self, keys: list[str]) -> dict[str, Stored]:
        self._check()
        return await self.inner.get_many(keys)  # type: ignore[no-any-return]

    async def set_many(self, items: list[tuple[str, Stored]], **kwargs: Any) -> None:
        self._check()
        await self.inner.set_many(items, **kwargs)

    async def delete_many(self, keys: list[str], **kwargs: Any) -> None:
        self._check()
        await self.inner.delete_many(keys, **kwargs)

    async def clear(self, **kwargs: Any) -> None:
        self._check()
        await self.inner.clear(**kwargs)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name.startswith("_") or name == "client" or not callable(attr):
            return attr
        if inspect.iscoroutinefunction(attr):

            async def guarded(*args: Any, **kwargs: Any) -> Any:
                self._check()
                return await attr(*args, **kwargs)

            return guarded
        if name in _SYNC_ROUND_TRIPS:  # hand back an awaitable or a lock that talks to the server

            def checked(*args: Any, **kwargs: Any) -> Any:
                self._check()
                return attr(*args, **kwargs)

            return checked
        return attr  # a local helper (e.g. `unpack`)


_SYNC_ROUND_TRIPS = frozenset({"fetch", "lock"})


def faulty(cache: HierarchicalCache, tier: str) -> FaultyTier:
    """Wrap `tier` ("l2" or "l3") of `cache` in a `FaultyTier` once and return it (idempotent)."""
    if tier not in ("l2", "l3"):
        raise CacheUsageError(f"tier must be 'l2' or 'l3', got {tier!r}")
    guard = cache.tier_guard(tier)
    current = guard.tier
    if not isinstance(current, FaultyTier):
        current = FaultyTier(current)
        guard.tier = current
    return current


@contextlib.contextmanager
def outage(cache: HierarchicalCache, tier: str) -> Iterator[FaultyTier]:
    """Within the block, `tier` of `cache` fails every call."""
    wrapper = faulty(cache, tier)
    wrapper.down = True
    try:
        yield wrapper
    finally:
        wrapper.down = False


class TcpProxy:
    """A loopback TCP proxy to a real server that a test can cut (`down()`) and restore (`up()`)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._links.discard(writer)
        self._links.discard(up_writer)


if TYPE_CHECKING:

    def _implements_the_protocol(tier: FaultyTier) -> Tier[Stored]:
        return tier
