"""What the hierarchical cache needs from a shared tier (Redis, SQL): batched, deadline-aware storage.

Deadlines are epoch seconds of the cache's clock (so a fake clock drives expiry in every tier, not
only in memory); `math.inf` means no deadline. A tombstone is a short-lived marker written by a delete
so that a concurrent read in another process cannot promote the old value back (see `RedisTier`).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol

NO_DEADLINE = math.inf


class Stored(NamedTuple):
    """A payload read from a tier; an empty payload is a tombstone (a recent delete)."""

    payload: bytes
    deadline: float

    @property
    def is_tombstone(self) -> bool:
        return not self.payload


class SharedTier(Protocol):
    """A tier below L1; every method is one round trip, whatever the number of keys."""

    name: str

    async def get_many(self, keys: list[str]) -> dict[str, Stored]:
        """The stored entries of the keys that exist (expired ones included: the cache filters)."""
        ...

    async def set_many(self, items: list[tuple[str, bytes, float]], *, only_if_absent: bool = False) -> None:
        """Store (key, payload, deadline) items; `only_if_absent` never overwrites a live entry."""
        ...

    async def delete_many(self, keys: list[str]) -> None: ...

    async def clear(self) -> None:
        """Remove every key of this cache's namespace."""
        ...

    async def aclose(self) -> None: ...
