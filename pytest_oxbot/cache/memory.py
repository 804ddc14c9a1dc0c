"""L1: an in-process LRU bounded by entry count AND bytes, with a per-entry deadline.

Values are kept as Python objects (a hit costs a dict lookup, no decoding); their encoded size is what
counts against the byte cap, since that is what the cache measured when it encoded them. Callers must
treat returned values as read-only, as with any in-memory cache.

The cache calls the synchronous `get`/`set`/`delete`/`flush` (an L1 hit must not cost an await, and
invalidations arrive in synchronous callbacks); the async methods are the `Tier` protocol, so L1 can
stand wherever a tier is expected (they read the time from `clock`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import CacheUsageError

if TYPE_CHECKING:
    from .tiers import Tier

_MISSING: Any = object()
# Per-entry bookkeeping (key string, tuple, OrderedDict node) counted against the byte cap.
ENTRY_OVERHEAD_BYTES = 120


class Entry(NamedTuple):
    """What L1 holds for a key: the decoded value, its deadline and the size of its encoding."""

    value: Any
    deadline: float
    size: int


class MemoryTier:
    """An LRU map key -> (value, deadline, cost); `now` is the cache clock's epoch time."""

    name = "l1"

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries <= 0 or max_bytes <= 0:
            raise CacheUsageError(
                f"MemoryTier needs max_entries > 0 and max_bytes > 0, got {max_entries} and {max_bytes}"
            )
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._now = clock
        self._data: OrderedDict[str, tuple[Any, float, int]] = OrderedDict()
        self._bytes = 0
        self.evictions = 0
        self.expirations = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        """Bytes currently accounted to the entries."""
        return self._bytes

    # -- the synchronous fast path ----------------------------------------------------------------
    def get(self, key: str, now: float, default: Any = _MISSING) -> Any:
        """The live value, or `default`; a hit becomes most recently used."""
        entry = self._data.get(key)
        if entry is None:
            return default
        if entry[1] <= now:
            self._drop(key)
            self.expirations += 1
            return default
        self._data.move_to_end(key)
        return entry[0]

    def deadline(self, key: str) -> float | None:
        """The deadline of a stored entry (expired or not), for tests and stats."""
        entry = self._data.get(key)
        return None if entry is None else entry[1]

    def set(self, key: str, value: Any, deadline: float, size: int, now: float) -> None:
        """Store `value` until `deadline`; evicts least recently used entries to respect both caps."""
        if deadline <= now:
            self.delete(key)
            return
        cost = size + len(key) + ENTRY_OVERHEAD_BYTES
        if cost > self.max_bytes:  # would evict everything and still not fit
            self.delete(key)
            return
        old = self._data.pop(key, None)
        if old is not None:
            self._bytes -= old[2]
        self._data[key] = (value, deadline, cost)
        self._bytes += cost
        while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
            _, (_, _, c) = self._data.popitem(last=False)
            self._bytes -= c
            self.evictions += 1

    def delete(self, key: str) -> None:
        if key in self._data:
            self._drop(key)

    def _drop(self, key: str) -> None:
        _, _, cost = self._data.pop(key)
        self._bytes -= cost

    def flush(self, predicate: Callable[[str], bool] | None = None) -> None:
        """Drop everything (or the keys `predicate` selects)."""
        if predicate is None:
            self._data.clear()
            self._bytes = 0
            return
        for key in [k for k in self._data if predicate(k)]:
            self._drop(key)

    # -- the Tier protocol ------------------------------------------------------------------------
    async def get_many(self, keys: list[str]) -> dict[str, Entry]:
        now = self._now()
        found: dict[str, Entry] = {}
        for key in keys:
            entry = self._data.get(key)
            if entry is not None and self.get(key, now) is not _MISSING:
                value, deadline, cost = entry
                found[key] = Entry(value, deadline, cost - len(key) - ENTRY_OVERHEAD_BYTES)
        return found

    async def set_many(self, items: list[tuple[str, Entry]], *, only_if_absent: bool = False) -> None:
        now = self._now()
        for key, (value, deadline, size) in items:
            if only_if_absent and self.get(key, now) is not _MISSING:
                continue
            self.set(key, value, deadline, size, now)

    async def delete_many(self, keys: list[str]) -> None:
        for key in keys:
            self.delete(key)

    async def clear(self) -> None:
        self.flush()

    async def aclose(self) -> None:
        self.flush()


if TYPE_CHECKING:

    def _implements_the_protocol(tier: MemoryTier) -> Tier[Entry]:
        return tier
