"""The tier-independent half of a lookup: decoding what a tier returned, and copying values up.

A lookup asks the shared tiers in order; each answer goes through `Findings.take`, which turns live
entries into values and notes what the tiers above should receive: L1 the decoded value (with L1's
TTL), L2 the encoded bytes of an L3 hit (with L2's TTL), never beyond the value's own deadline.
`copy_into_l2` makes that L2 copy safe against deletes racing it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .codec import Codec
from .errors import CodecError
from .guard import TierGuard
from .redis_tier import RedisTier
from .sql_tier import SqlTier
from .stats import TierStats
from .tiers import UNREADABLE, Stored

log = logging.getLogger(__name__)

PromoteL1 = list[tuple[str, Any, float, int]]  # (full key, value, L1 deadline, encoded size)
Message = tuple[str, bytes] | None


class Findings:
    """One lookup's values, and the copies it owes the tiers above."""

    __slots__ = ("codec", "dead_in_l2", "found", "l1_ttl", "l2_ttl", "now", "promote_l1", "promote_l2")

    def __init__(
        self, codec: Codec, now: float, *, l1_ttl: float, l2_ttl: float, into_l1: bool, into_l2: bool
    ) -> None:
        self.codec = codec
        self.now = now
        self.l1_ttl = l1_ttl
        self.l2_ttl = l2_ttl
        self.found: dict[str, Any] = {}
        self.promote_l1: PromoteL1 | None = [] if into_l1 else None
        self.promote_l2: list[tuple[str, Stored]] | None = [] if into_l2 else None
        # L2 keys holding something of no use (expired on our clock, undecodable): the copy from L3
        # may overwrite them; anything else in L2 it only writes if absent.
        self.dead_in_l2: set[str] = set()

    def take(
        self, stats: TierStats, missing: list[str], entries: dict[str, Stored], *, l2: bool
    ) -> list[str]:
        """Decode what a tier returned for `missing`; returns the keys still missing.

        `l2`: the answer is L2's (the tier with tombstones, and the one L3 hits are copied into).
        """
        now = self.now
        still: list[str] = []
        for fk in missing:
            entry = entries.get(fk)
            if entry is None:
                still.append(fk)
                continue
            payload, deadline = entry
            if deadline <= now:
                still.append(fk)
                if entry is UNREADABLE:
                    undecodable(stats, "too short for its header")
                if l2:
                    self.dead_in_l2.add(fk)
                continue
            if not payload and l2:  # a tombstone: deleted moments ago, a sure miss
                stats.misses += 1
                continue
            try:
                value = self.codec.loads(payload)
            except CodecError as exc:
                undecodable(stats, str(exc))
                still.append(fk)
                if l2:
                    self.dead_in_l2.add(fk)
                continue
            self.found[fk] = value
            stats.hits += 1
            if self.promote_l1 is not None:
                self.promote_l1.append((fk, value, min(now + self.l1_ttl, deadline), len(payload)))
            if self.promote_l2 is not None and not l2:
                self.promote_l2.append((fk, Stored(payload, min(now + self.l2_ttl, deadline))))
        stats.misses += len(still)
        return still

    def forget(self, fks: list[str]) -> None:
        """Do not copy these into L1 (their copy into L2 was undone)."""
        if self.promote_l1:
            gone = set(fks)
            self.promote_l1[:] = [p for p in self.promote_l1 if p[0] not in gone]


def undecodable(stats: TierStats, why: str) -> None:
    """Count a junk entry; logged at warning level once per tier (a neighbour must not flood the log)."""
    stats.undecodable += 1
    level = logging.WARNING if stats.undecodable == 1 else logging.DEBUG
    log.log(level, "undecodable cache entry in %s (%s); treated as a miss", stats.name, why[:200])


async def copy_into_l2(
    l2: TierGuard[RedisTier],
    l3: TierGuard[SqlTier],
    items: list[tuple[str, Stored]],
    *,
    overwrite: set[str],
    message: Callable[[list[str]], Message],
) -> list[str]:
    """Copy L3 hits into L2, then undo every copy whose L3 row changed meanwhile; returns those keys.

    The copy is SET NX, so it never overwrites a newer value or a delete's tombstone still in L2. But
    a tombstone can be evicted (an `allkeys-*` Redis) or expire before a slow read ends; re-reading the
    copied keys from L3 catches both: a delete or overwrite in L3 since our read removes the copy again
    (with an invalidation for the other processes' L1s), so the old value is not served from L2.
    Deletes reach L3 before L2, so a delete the re-read misses has yet to write its tombstone, which
    overwrites the copy.
    """
    ok, written = await l2.call(l2.tier.promote_many, items, overwrite=overwrite)
    if not ok or not written:
        return []
    sent = dict(items)
    ok, rows = await l3.call(l3.tier.get_many, written)
    stale = [
        fk for fk in written if not ok or (row := rows.get(fk)) is None or row.payload != sent[fk].payload
    ]
    if stale:
        await l2.write(stale, l2.tier.delete_many, stale, publish=message(stale))
    return stale
