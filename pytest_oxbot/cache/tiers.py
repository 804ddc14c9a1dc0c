"""The one protocol every cache tier implements (L1 memory, L2 Redis, L3 SQL), and what a tier stores.

Keys are full keys (namespace and version included). Deadlines are epoch seconds of the cache's clock,
so a fake clock drives expiry in every tier, not only in memory; `math.inf` means no deadline. Every
method costs one round trip whatever the number of keys (none in memory). What one key holds differs
by tier, hence the type parameter: the shared tiers hold encoded bytes (`Stored`), L1 the decoded
object (`memory.Entry`), so that an L1 hit costs no decoding.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol, TypeVar

NO_DEADLINE = math.inf
E = TypeVar("E")


class Stored(NamedTuple):
    """A payload in a shared tier; an empty payload is a tombstone (a recent delete)."""

    payload: bytes
    deadline: float

    @property
    def is_tombstone(self) -> bool:
        return not self.payload


# What a shared tier returns for a key whose stored bytes it cannot even unpack (a value another
# program wrote, or a truncated one): a dead entry the cache counts as undecodable and may overwrite.
UNREADABLE = Stored(b"", -math.inf)


class Tier(Protocol[E]):
    """One level of the cache. The guard (`guard.py`) wraps every shared tier's calls."""

    name: str

    async def get_many(self, keys: list[str]) -> dict[str, E]:
        """The entries of the keys the tier holds; may include expired ones (the cache checks deadlines)."""
        ...

    async def set_many(self, items: list[tuple[str, E]], *, only_if_absent: bool = False) -> None:
        """Store the entries; `only_if_absent` never overwrites an entry the tier still holds."""
        ...

    async def delete_many(self, keys: list[str]) -> None: ...

    async def clear(self) -> None:
        """Remove every key of this cache's namespace and version."""
        ...

    async def aclose(self) -> None:
        """Release what the tier holds (connections, memory)."""
        ...
