"""TierGuard on its own (any `Tier` will do: here a dict), and through the cache in strict mode."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pytest_oxbot.cache import CacheBackendError, FaultPolicy, HierarchicalCache, Stored, TierStats
from pytest_oxbot.cache.faults import outage
from pytest_oxbot.cache.guard import TierGuard
from pytest_oxbot.clock import FakeClock


class DictTier:
    """The smallest shared tier: a dict, which a test can make fail or stall."""

    name = "l2"

    def __init__(self) -> None:
        self.data: dict[str, Stored] = {}
        self.failing = False
        self.stall: asyncio.Event | None = None  # while set, delete_many waits for it
        self.deletes: list[list[str]] = []

    def _check(self) -> None:
        if self.failing:
            raise ConnectionError("down")

    async def get_many(self, keys: list[str]) -> dict[str, Stored]:
        self._check()
        return {k: self.data[k] for k in keys if k in self.data}

    async def set_many(self, items: list[tuple[str, Stored]], *, only_if_absent: bool = False) -> None:
        self._check()
        for key, entry in items:
            if not (only_if_absent and key in self.data):
                self.data[key] = entry

    async def delete_many(self, keys: list[str]) -> None:
        self._check()
        if self.stall is not None:
            await self.stall.wait()
        self.deletes.append(list(keys))
        for key in keys:
            self.data.pop(key, None)

    async def clear(self) -> None:
        self._check()
        self.data.clear()

    async def aclose(self) -> None:
        pass


def guard_on(tier: DictTier, clock: FakeClock, **policy: Any) -> TierGuard[Any]:
    return TierGuard(
        tier, stats=TierStats("l2"), clock=clock, policy=FaultPolicy(**policy), probe_key="probe"
    )


async def test_a_failure_opens_the_circuit_until_the_retry_interval() -> None:
    tier, clock = DictTier(), FakeClock()
    guard = guard_on(tier, clock, retry_interval=5)
    tier.failing = True
    assert await guard.call(tier.get_many, ["k"]) == (False, None)
    tier.failing = False
    assert await guard.call(tier.get_many, ["k"]) == (False, None)  # still within the interval
    assert not guard.up
    clock.advance(5)
    assert await guard.call(tier.get_many, ["k"]) == (True, {})
    assert guard.up
    assert guard.stats.errors == 1


async def test_missed_writes_are_repaired_in_the_background_without_further_calls() -> None:
    tier, clock = DictTier(), FakeClock()
    guard = guard_on(tier, clock, retry_interval=0)
    tier.data["k"] = Stored(b"1", 1e12)
    tier.failing = True
    assert not await guard.write(["k"], tier.set_many, [("k", Stored(b"2", 1e12))])
    assert guard.pending_repair
    tier.failing = False  # the tier answers again; nobody calls the guard
    async with asyncio.timeout(5):
        while not guard.up:  # noqa: ASYNC110 - the guard's background task repairs it
            await asyncio.sleep(0.01)
    assert "k" not in tier.data  # the stale entry is gone, not served again
    assert not guard.pending_repair
    await guard.aclose()


async def test_calls_during_a_repair_wait_for_it_and_keys_missed_meanwhile_are_repaired_too() -> None:
    tier, clock = DictTier(), FakeClock()
    guard = guard_on(tier, clock, retry_interval=0)
    tier.failing = True
    await guard.write(["a"], tier.set_many, [("a", Stored(b"1", 1e12))])
    tier.failing = False
    tier.stall = asyncio.Event()
    repair = asyncio.create_task(guard.recover())
    await asyncio.sleep(0.01)  # the repair of "a" is in flight
    guard.missed(["b"])  # a write that started before the repair failed meanwhile
    read = asyncio.create_task(guard.call(tier.get_many, ["c"]))  # a read arriving now waits for it
    await asyncio.sleep(0.01)
    assert not read.done()
    tier.stall.set()
    assert await repair
    assert await read == (True, {})  # served once the tier was repaired, not skipped as down
    assert tier.deletes == [["a"], ["b"]]  # "b" was not lost when the first round finished
    assert guard.up
    await guard.aclose()


async def test_strict_mode_raises_and_still_remembers_the_missed_write(
    oxbot_cache_factory: Any, oxbot_clock: FakeClock
) -> None:
    cache: HierarchicalCache = oxbot_cache_factory(faults=FaultPolicy(strict=True, retry_interval=0))
    await cache.set("k", "v1")
    with outage(cache, "l2"), pytest.raises(CacheBackendError, match="l2"):
        await cache.set("k", "v2")  # L3 has v2; L2 missed it and still holds v1
    oxbot_clock.advance(31)  # past L1
    assert await cache.get("k") == "v2"  # L2 was repaired before it served again
