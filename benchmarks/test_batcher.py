"""IntelligentBatcher against aiodataloader: CPU instructions end to end (gated), wall time (printed), and
exact coalescing at 10k.

aiodataloader is what a user would pick instead (a DataLoader: batch per loop tick, cache by key). Both
get the same no-op batch function and the same 10,000 requests, unique or with 30 % duplicates.

What is gated: instructions (valgrind, in a child process; see pytest_oxbot.kpi.instructions) of the
whole run, **one task per caller** (`gather` of coroutines that each await their request): a caller is a
task, and that is what "cancelling one caller cancels no one else" is about. Target: <= 1.0x
aiodataloader in both cases. Also measured and printed: the shape of the first benchmark, one task
gathering the 10,000 futures directly. There aiodataloader hands every duplicate the same future and
`gather` registers a shared future once, so 30 % of its callbacks disappear; a batcher that gives each
caller its own future (measured: even a 30-line minimal one) cannot match that, and the shared future
is exactly what makes aiodataloader cancel every duplicate caller when one is cancelled
(`test_why_duplicates_cost_a_future_each_cancellation_stays_with_its_caller`).

Wall-clock times of the same runs are measured interleaved in this process and printed beside (never
gated: a benchmark that can fail on a busy machine is a bug). The instruction counts are also recorded
as KPIs (`batcher_unique_instructions`, `batcher_duplicates_instructions`), so the baseline catches a
1 % regression of the batcher itself.
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import time
from collections.abc import Awaitable, Callable

import pytest
from aiodataloader import DataLoader

from benchmarks.parallel import each
from pytest_oxbot.batcher import IntelligentBatcher
from pytest_oxbot.kpi.instructions import count_instructions
from pytest_oxbot.kpi.measure import KpiRecorder

REQUESTS = 10_000
ROUNDS = 11
TARGET_RATIO = 1.0
CASES = {"unique keys": 0.0, "30 % duplicates": 0.3}


async def echo(keys: list[int]) -> list[int]:
    return keys


def with_duplicates(total: int, share: float, seed: int = 2026) -> list[int]:
    rng = random.Random(seed)
    unique = list(range(total - round(total * share)))
    keys = unique + [rng.choice(unique) for _ in range(total - len(unique))]
    rng.shuffle(keys)
    return keys


async def _await_submit(batcher: IntelligentBatcher[int, int], key: int) -> int:
    return await batcher.submit(key)


async def _await_load(loader: DataLoader[int, int], key: int) -> int:
    return await loader.load(key)


async def batcher_tasks(keys: list[int]) -> None:
    """One task per caller, each awaiting its own request."""
    batcher: IntelligentBatcher[int, int] = IntelligentBatcher(echo, window=0, max_batch_size=len(keys))
    assert await asyncio.gather(*[_await_submit(batcher, k) for k in keys]) == keys


async def dataloader_tasks(keys: list[int]) -> None:
    loader: DataLoader[int, int] = DataLoader(echo)
    assert await asyncio.gather(*[_await_load(loader, k) for k in keys]) == keys


async def batcher_futures(keys: list[int]) -> None:
    """One task gathering every request's future."""
    batcher: IntelligentBatcher[int, int] = IntelligentBatcher(echo, window=0, max_batch_size=len(keys))
    assert await asyncio.gather(*[batcher.submit(k) for k in keys]) == keys


async def dataloader_futures(keys: list[int]) -> None:
    loader: DataLoader[int, int] = DataLoader(echo)
    assert await asyncio.gather(*[loader.load(k) for k in keys]) == keys


SHAPES: dict[str, tuple[Callable[[list[int]], Awaitable[None]], Callable[[list[int]], Awaitable[None]]]] = {
    "one task per caller": (batcher_tasks, dataloader_tasks),
    "futures gathered by one task": (batcher_futures, dataloader_futures),
}
GATED_SHAPE = "one task per caller"


def _count(job: tuple[Callable[[list[int]], Awaitable[None]], float]) -> float:
    fn, share = job
    return count_instructions(fn, REQUESTS, share, setup=with_duplicates, rounds=1, warmup=1).per_call


def _count_all(
    jobs: list[tuple[Callable[[list[int]], Awaitable[None]], float]],
) -> dict[tuple[Callable[[list[int]], Awaitable[None]], float], float]:
    return dict(zip(jobs, each(_count, jobs), strict=True))


async def _wall(fn: Callable[[list[int]], Awaitable[None]], keys: list[int]) -> float:
    start = time.perf_counter()
    await fn(keys)
    return time.perf_counter() - start


async def interleaved(
    keys: list[int], runs: list[Callable[[list[int]], Awaitable[None]]]
) -> list[list[float]]:
    """Each round runs every contender once, rotating the order; the cyclic GC stays out of the timings."""
    for run in runs:
        await run(keys)  # warm-up
    times: list[list[float]] = [[] for _ in runs]
    gc.collect()
    gc.disable()
    try:
        for i in range(ROUNDS):
            for j in [*range(i % len(runs), len(runs)), *range(i % len(runs))]:
                times[j].append(await _wall(runs[j], keys))
    finally:
        gc.enable()
        gc.collect()
    return times


async def test_batcher_vs_aiodataloader_instructions_and_wall_time(
    oxbot_kpi: KpiRecorder, capsys: pytest.CaptureFixture[str]
) -> None:
    oxbot_kpi.require_instruments()
    jobs = [(fn, share) for share in CASES.values() for pair in SHAPES.values() for fn in pair]
    started = time.perf_counter()
    counted = await asyncio.to_thread(_count_all, jobs)
    counting = time.perf_counter() - started
    lines = [
        f"\n[batcher] {REQUESTS} requests, no-op batch function ({counting:.0f} s counting under valgrind)"
    ]
    ratios: dict[tuple[str, str], float] = {}
    for label, share in CASES.items():
        keys = with_duplicates(REQUESTS, share)
        for shape, (ours, theirs) in SHAPES.items():
            mine, other = counted[(ours, share)], counted[(theirs, share)]
            ratios[(shape, label)] = mine / other
            wall_ours, wall_theirs = await interleaved(keys, [ours, theirs])
            wall_ratio = statistics.median(wall_ours) / statistics.median(wall_theirs)
            lines.append(
                f"  {label:16s} {shape:29s} instructions {mine / REQUESTS:8,.0f} vs {other / REQUESTS:8,.0f} "
                f"per request = {mine / other:.3f}x; wall {statistics.median(wall_ours) * 1e3:6.1f} vs "
                f"{statistics.median(wall_theirs) * 1e3:6.1f} ms = {wall_ratio:.3f}x "
                f"(median of {ROUNDS}, not gated)"
            )
        name = "batcher_unique_instructions" if share == 0 else "batcher_duplicates_instructions"
        oxbot_kpi.record(name, counted[(SHAPES[GATED_SHAPE][0], share)], source="valgrind")
    lines.append(f"  gated: instructions, {GATED_SHAPE}, <= {TARGET_RATIO}x in both cases")
    with capsys.disabled():
        print("\n".join(lines))
    for label in CASES:
        ratio = ratios[(GATED_SHAPE, label)]
        assert ratio <= TARGET_RATIO, f"{label}: batcher costs {ratio:.3f}x aiodataloader's instructions"
    assert ratios[("futures gathered by one task", "unique keys")] <= TARGET_RATIO


async def test_ten_thousand_submits_with_30_percent_duplicates_send_exactly_the_unique_items(
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = with_duplicates(REQUESTS, 0.3)
    unique = set(keys)
    sent: list[int] = []

    async def upstream(batch: list[int]) -> dict[int, str]:
        sent.extend(batch)
        await asyncio.sleep(0)  # a real upstream yields: later duplicates arrive while batches are in flight
        return {k: f"v{k}" for k in batch}

    batcher: IntelligentBatcher[int, str] = IntelligentBatcher(upstream, window=0.005, max_batch_size=100)
    started = time.perf_counter()
    results = await asyncio.gather(*[batcher.submit(k) for k in keys])
    elapsed = time.perf_counter() - started
    await batcher.aclose()
    stats = batcher.stats
    with capsys.disabled():
        print(
            f"\n[batcher] {REQUESTS} submits, {REQUESTS - len(unique)} duplicates ({len(unique)} unique): "
            f"{len(sent)} upstream items in {stats.batches} batches "
            f"(mean size {stats.mean_batch_size:.1f}, sizes {dict(sorted(stats.size_histogram.items()))}), "
            f"{stats.coalesced} coalesced, worst queue wait {stats.queue_wait_max * 1e3:.1f} ms, "
            f"{elapsed * 1e3:.0f} ms in all"
        )
    assert results == [f"v{k}" for k in keys]  # every caller its own, right answer
    assert len(sent) == len(unique)  # exactly the unique items went upstream...
    assert set(sent) == unique  # ...each once
    assert stats.coalesced == REQUESTS - len(unique)
    assert stats.submitted == REQUESTS
    assert all(size <= 100 for size in stats.size_histogram)


async def test_why_duplicates_cost_a_future_each_cancellation_stays_with_its_caller() -> None:
    """What the duplicate path pays for: aiodataloader hands both callers one future, so cancelling one
    caller cancels the other; the batcher gives each caller its own."""

    async def slow_echo(keys: list[int]) -> list[int]:
        await asyncio.sleep(0)
        return keys

    loader: DataLoader[int, int] = DataLoader(slow_echo)
    batcher: IntelligentBatcher[int, int] = IntelligentBatcher(slow_echo, window=0, max_batch_size=10)

    async def two_callers_one_cancelled(load: Callable[[int], Awaitable[int]]) -> object:
        first = asyncio.ensure_future(load(1))
        second = asyncio.ensure_future(load(1))
        await asyncio.sleep(0)
        first.cancel()
        return (await asyncio.gather(first, second, return_exceptions=True))[1]

    async def via_loader(k: int) -> int:
        return await loader.load(k)

    async def via_batcher(k: int) -> int:
        return await batcher.submit(k)

    assert isinstance(await two_callers_one_cancelled(via_loader), asyncio.CancelledError)
    assert await two_callers_one_cancelled(via_batcher) == 1
