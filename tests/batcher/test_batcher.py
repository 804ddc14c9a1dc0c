"""IntelligentBatcher: the pitfalls of DESIGN.md's batcher list, one test each, plus a property test."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_oxbot.batcher import (
    DEFAULT_MAX_BATCH_SIZE,
    BatcherClosedError,
    BatchResultError,
    IntelligentBatcher,
)


class Upstream:
    """A recording batch_fn: doubles ints, or returns what `answer` says for a batch."""

    def __init__(self, answer: Any = None) -> None:
        self.batches: list[list[Any]] = []
        self.answer = answer

    async def __call__(self, requests: list[Any]) -> Sequence[Any] | Mapping[Hashable, Any]:
        self.batches.append(list(requests))
        if self.answer is not None:
            return self.answer(requests)  # type: ignore[no-any-return]
        return [r * 2 for r in requests]

    @property
    def sizes(self) -> list[int]:
        return [len(b) for b in self.batches]


async def settle(rounds: int = 5) -> None:
    """Let the event loop run ready callbacks (never a timed sleep)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def test_each_caller_gets_its_own_result() -> None:
    upstream = Upstream()
    batcher = IntelligentBatcher(upstream, window=0, max_batch_size=100)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
    assert results == [i * 2 for i in range(20)]
    assert upstream.sizes == [20]


async def test_mapping_results_are_matched_by_key() -> None:
    upstream = Upstream(lambda reqs: {r["id"]: f"answer-{r['id']}" for r in reversed(reqs)})
    batcher = IntelligentBatcher(upstream, window=0, max_batch_size=10, key=lambda r: r["id"])
    results = await asyncio.gather(*(batcher.submit({"id": i}) for i in (3, 1, 2)))
    assert results == ["answer-3", "answer-1", "answer-2"]


async def test_per_item_error_fails_only_its_callers() -> None:
    boom = KeyError("no such symbol")
    upstream = Upstream(lambda reqs: [boom if r == 2 else r * 10 for r in reqs])
    batcher = IntelligentBatcher(upstream, window=0, max_batch_size=10)
    results = await asyncio.gather(*(batcher.submit(i) for i in (1, 2, 3, 2)), return_exceptions=True)
    assert results == [10, boom, 30, boom]
    assert batcher.stats.failed_items == 1


async def test_missing_key_in_mapping_fails_only_that_item() -> None:
    upstream = Upstream(lambda reqs: {r: r for r in reqs if r != "b"})
    batcher = IntelligentBatcher(upstream, window=0, max_batch_size=10)
    a, b = await asyncio.gather(batcher.submit("a"), batcher.submit("b"), return_exceptions=True)
    assert a == "a"
    assert isinstance(b, BatchResultError)


async def test_whole_batch_failure_fails_its_callers_and_poisons_nothing_later() -> None:
    calls = 0

    def answer(reqs: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("upstream down")
        return [r + 100 for r in reqs]

    batcher = IntelligentBatcher(Upstream(answer), window=0, max_batch_size=10)
    first = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in first)
    second = await asyncio.gather(*(batcher.submit(i) for i in range(3)))
    assert second == [100, 101, 102]
    assert batcher.stats.failed_batches == 1


async def test_wrong_result_length_is_a_whole_batch_error() -> None:
    batcher = IntelligentBatcher(Upstream(lambda reqs: reqs[:-1]), window=0, max_batch_size=10)
    results = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert all(isinstance(r, BatchResultError) for r in results)


async def test_cancelling_one_caller_cancels_no_one_else_nor_the_upstream_call() -> None:
    release = asyncio.Event()
    finished: list[bool] = []

    async def slow(reqs: list[int]) -> list[int]:
        await release.wait()
        finished.append(True)
        return [r * 3 for r in reqs]

    batcher = IntelligentBatcher(slow, window=0, max_batch_size=10)

    async def caller(i: int) -> int:
        return await batcher.submit(i)

    tasks = [asyncio.create_task(caller(i)) for i in (1, 2, 2, 3)]
    await settle()  # the batch is now in flight, blocked on `release`
    tasks[1].cancel()  # one of the two callers of the coalesced item 2
    tasks[0].cancel()
    await settle()
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert isinstance(results[1], asyncio.CancelledError)
    assert results[2:] == [6, 9]
    assert finished == [True]


async def test_item_whose_callers_all_cancelled_before_flush_is_not_sent() -> None:
    upstream = Upstream()
    batcher = IntelligentBatcher(upstream, window=60, max_batch_size=10)
    gone = batcher.submit(1)
    kept = batcher.submit(2)
    gone.cancel()
    await batcher.flush()
    assert await kept == 4
    assert upstream.batches == [[2]]
    assert batcher.stats.cancelled_items == 1


async def test_max_batch_size_splits_without_waiting_for_the_window() -> None:
    upstream = Upstream()
    batcher = IntelligentBatcher(upstream, window=3600, max_batch_size=5)
    futures = [batcher.submit(i) for i in range(12)]
    await settle()
    assert upstream.sizes == [5, 5]  # full batches went out at once; the window is an hour
    await batcher.aclose()  # drains the remaining two
    assert upstream.sizes == [5, 5, 2]
    assert [f.result() for f in futures] == [i * 2 for i in range(12)]
    assert batcher.stats.size_histogram == {5: 2, 2: 1}


async def test_lone_request_waits_for_the_window_then_flushes() -> None:
    upstream = Upstream()
    long_window = IntelligentBatcher(upstream, window=3600, max_batch_size=5)
    pending = long_window.submit(7)
    await settle()
    assert upstream.batches == []  # not flushed before its window
    assert not pending.done()
    await long_window.aclose()
    assert pending.result() == 14

    short_window = IntelligentBatcher(upstream, window=0.01, max_batch_size=5)
    assert await asyncio.wait_for(short_window.submit(8), timeout=5) == 16  # the timer alone flushed it
    assert upstream.batches[-1] == [8]


async def test_nothing_leaks_between_batches() -> None:
    generation = 0

    def answer(reqs: list[str]) -> list[str]:
        return [f"{r}@{generation}" for r in reqs]

    upstream = Upstream(answer)
    batcher = IntelligentBatcher(upstream, window=0, max_batch_size=10)
    assert await asyncio.gather(batcher.submit("a"), batcher.submit("b")) == ["a@0", "b@0"]
    generation = 1
    assert await asyncio.gather(batcher.submit("a"), batcher.submit("b")) == ["a@1", "b@1"]
    assert upstream.batches == [["a", "b"], ["a", "b"]]
    assert batcher._pending == {}
    assert batcher._inflight == {}
    assert batcher._tasks == set()


async def test_groups_never_share_an_upstream_call() -> None:
    upstream = Upstream(lambda reqs: [f"{m}:{p}" for m, p in reqs])
    batcher = IntelligentBatcher(upstream, window=0, max_batch_size=10, group=lambda r: r[0])
    requests = [("gpt", 1), ("claude", 1), ("gpt", 2), ("claude", 2), ("gpt", 3)]
    results = await asyncio.gather(*(batcher.submit(r) for r in requests))
    assert results == ["gpt:1", "claude:1", "gpt:2", "claude:2", "gpt:3"]
    assert sorted(upstream.batches) == [[("claude", 1), ("claude", 2)], [("gpt", 1), ("gpt", 2), ("gpt", 3)]]


async def test_identical_requests_are_coalesced_into_one_item() -> None:
    upstream = Upstream()
    batcher = IntelligentBatcher(upstream, window=0, max_batch_size=10)
    results = await asyncio.gather(*(batcher.submit(5) for _ in range(10)))
    assert results == [10] * 10
    assert upstream.batches == [[5]]
    assert batcher.stats.coalesced == 9
    assert (batcher.stats.submitted, batcher.stats.items, batcher.stats.batches) == (10, 1, 1)


async def test_identical_request_joins_an_item_already_in_flight() -> None:
    release = asyncio.Event()
    seen: list[list[int]] = []

    async def slow(reqs: list[int]) -> list[int]:
        seen.append(list(reqs))
        await release.wait()
        return [r + 1 for r in reqs]

    batcher = IntelligentBatcher(slow, window=0, max_batch_size=10)
    first = batcher.submit(1)
    await settle()
    late = batcher.submit(1)
    release.set()
    assert await asyncio.gather(first, late) == [2, 2]
    assert seen == [[1]]

    independent = IntelligentBatcher(slow, window=0, max_batch_size=10, coalesce_inflight=False)
    release.clear()
    a = independent.submit(1)
    await settle()
    b = independent.submit(1)
    await settle()
    release.set()
    assert await asyncio.gather(a, b) == [2, 2]
    assert seen[1:] == [[1], [1]]


async def test_aclose_drains_and_later_submits_are_a_clear_error() -> None:
    upstream = Upstream()
    batcher = IntelligentBatcher(upstream, window=3600, max_batch_size=10)
    pending = [batcher.add_request(i) for i in range(3)]  # the seed's name still works
    await batcher.aclose()
    assert [p.result() for p in pending] == [0, 2, 4]
    assert batcher.closed
    with pytest.raises(BatcherClosedError, match="closed"):
        batcher.submit(1)


async def test_async_context_manager_closes() -> None:
    upstream = Upstream()
    async with IntelligentBatcher(upstream, window=3600, max_batch_size=10) as batcher:
        pending = batcher.submit(4)
    assert pending.result() == 8
    assert batcher.closed


def test_nothing_binds_to_an_event_loop_before_first_use() -> None:
    upstream = Upstream()
    batcher = IntelligentBatcher(upstream, window=0, max_batch_size=10)  # no loop running here

    async def use(value: int) -> int:
        return await batcher.submit(value)

    assert asyncio.run(use(1)) == 2  # first loop
    assert asyncio.run(use(2)) == 4  # a second, fresh loop (as pytest makes per test)


def test_work_abandoned_on_a_closed_loop_does_not_block_the_next_loop() -> None:
    upstream = Upstream()
    batcher = IntelligentBatcher(upstream, window=3600, max_batch_size=10)

    async def leave_pending() -> None:
        batcher.submit(1)  # never flushed: the loop ends first (a test that forgot aclose)

    async def use(value: int) -> int:
        return await asyncio.wait_for(batcher.submit(value), timeout=5)

    asyncio.run(leave_pending())
    batcher.window = 0
    assert asyncio.run(use(3)) == 6
    assert upstream.batches == [[3]]


async def test_stats_describe_the_traffic() -> None:
    upstream = Upstream()
    batcher = IntelligentBatcher(upstream, window=0, max_batch_size=3)
    await asyncio.gather(*(batcher.submit(i) for i in (1, 1, 2, 3, 4)))
    stats = batcher.stats
    assert (stats.submitted, stats.items, stats.coalesced, stats.batches) == (5, 4, 1, 2)
    assert stats.size_histogram == {3: 1, 1: 1}
    assert stats.mean_batch_size == 2
    assert stats.queue_wait_max >= stats.mean_queue_wait >= 0


def test_defaults_and_validation() -> None:
    assert IntelligentBatcher(Upstream()).max_batch_size == DEFAULT_MAX_BATCH_SIZE == 5
    with pytest.raises(ValueError, match="window"):
        IntelligentBatcher(Upstream(), window=-1)
    with pytest.raises(ValueError, match="max_batch_size"):
        IntelligentBatcher(Upstream(), max_batch_size=0)


@settings(max_examples=60, deadline=None)
@given(
    requests=st.lists(st.integers(min_value=0, max_value=15), min_size=1, max_size=60),
    max_size=st.integers(min_value=1, max_value=8),
    failing=st.sets(st.integers(min_value=0, max_value=15), max_size=3),
)
def test_property_every_caller_gets_its_own_answer_and_upstream_sees_unique_items(
    requests: list[int], max_size: int, failing: set[int]
) -> None:
    upstream = Upstream(lambda reqs: [ValueError(r) if r in failing else r * 2 for r in reqs])

    async def run() -> list[Any]:
        batcher = IntelligentBatcher(upstream, window=0, max_batch_size=max_size)
        results = await asyncio.gather(*(batcher.submit(r) for r in requests), return_exceptions=True)
        await batcher.aclose()
        return results

    results = asyncio.run(run())
    for request, result in zip(requests, results, strict=True):
        if request in failing:
            assert isinstance(result, ValueError)
            assert result.args == (request,)
        else:
            assert result == request * 2
    sent = [r for batch in upstream.batches for r in batch]
    assert sorted(sent) == sorted(set(requests))
    assert all(1 <= len(b) <= max_size for b in upstream.batches)
