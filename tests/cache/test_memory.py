"""L1: LRU within an entry cap and a byte cap, with deadlines."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.cache import MemoryTier
from pytest_oxbot.cache.memory import ENTRY_OVERHEAD_BYTES

FAR = 1e12  # a deadline that never comes


def test_expiry_and_lru_order() -> None:
    tier = MemoryTier(max_entries=2)
    tier.set("a", 1, deadline=10, size=1, now=0)
    tier.set("b", 2, deadline=FAR, size=1, now=0)
    assert tier.get("a", now=5) == 1  # a is now most recently used
    tier.set("c", 3, deadline=FAR, size=1, now=5)  # evicts b, the least recently used
    assert tier.get("b", now=5, default=None) is None
    assert tier.get("a", now=10, default=None) is None  # deadline reached
    assert tier.evictions == 1
    assert tier.expirations == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=8), st.integers(0, 5000)), max_size=300))
def test_caps_hold_even_when_every_entry_lives_forever(writes: list[tuple[str, int]]) -> None:
    tier = MemoryTier(max_entries=50, max_bytes=20_000)
    for key, size in writes:
        tier.set(key, size, deadline=FAR, size=size, now=0)
        assert len(tier) <= 50
        assert tier.nbytes <= 20_000
    assert tier.nbytes == sum(
        size + len(k) + ENTRY_OVERHEAD_BYTES
        for k, size in dict(writes).items()
        if tier.deadline(k) is not None
    )


def test_an_entry_larger_than_the_cap_is_not_kept() -> None:
    tier = MemoryTier(max_bytes=1000)
    tier.set("big", "x", deadline=FAR, size=5000, now=0)
    assert len(tier) == 0
    assert tier.nbytes == 0


def test_bad_caps_are_rejected() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryTier(max_entries=0)
