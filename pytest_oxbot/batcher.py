"""IntelligentBatcher: many concurrent callers, few upstream calls, every caller its own answer.

Callers `await batcher.submit(request)`. Requests are grouped (`group(request)`, e.g. one group per
endpoint or model) and identical requests (`key(request)`) are coalesced into one upstream item. A group
flushes when its window ends or when it holds `max_batch_size` distinct items, whichever comes first.

Why each caller gets its *own* future (unlike a loader that hands the same future to duplicates):
cancelling one caller must cancel no one else, and the upstream call runs in the batcher's own task, so
it is never cancelled by a caller either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pytest_oxbot.settings import get_settings

Req = TypeVar("Req")
Res = TypeVar("Res")

BatchResult = Sequence[Any] | Mapping[Any, Any]
"""What `batch_fn` returns: results in request order, or a mapping by coalescing key.

Any element that is an exception instance fails only the callers of that item."""

__all__ = [
    "BatchResultError",
    "BatcherClosedError",
    "BatcherStats",
    "IntelligentBatcher",
]


class BatcherClosedError(RuntimeError):
    """`submit` was called after `aclose()`: the batcher no longer accepts work."""


class BatchResultError(RuntimeError):
    """`batch_fn` returned something that cannot be matched to the requests (wrong length, missing key)."""


@dataclass
class BatcherStats:
    """Counters a monitor or a benchmark can read; queue wait is measured per upstream item."""

    submitted: int = 0
    batches: int = 0
    items: int = 0
    coalesced: int = 0
    failed_items: int = 0
    failed_batches: int = 0
    cancelled_callers: int = 0
    size_histogram: dict[int, int] = field(default_factory=dict)
    queue_wait_total: float = 0.0
    queue_wait_max: float = 0.0

    @property
    def mean_queue_wait(self) -> float:
        """Mean seconds an upstream item waited between its first submit and its flush."""
        return self.queue_wait_total / self.items if self.items else 0.0

    @property
    def mean_batch_size(self) -> float:
        return self.items / self.batches if self.batches else 0.0


class _Item:
    """One upstream item: the first request of its key, and every caller waiting for it."""

    __slots__ = ("enqueued", "request", "waiters")

    def __init__(self, request: Any, waiter: asyncio.Future[Any], enqueued: float) -> None:
        self.request = request
        self.waiters = [waiter]
        self.enqueued = enqueued


class _Pending:
    """The open batch of one group, with its window timer."""

    __slots__ = ("items", "timer")

    def __init__(self) -> None:
        self.items: dict[Hashable, _Item] = {}
        self.timer: asyncio.TimerHandle | None = None


def _identity(request: Any) -> Hashable:
    return request  # type: ignore[no-any-return]


def _single_group(request: Any) -> Hashable:
    return None


class IntelligentBatcher(Generic[Req, Res]):
    """Group, coalesce and flush requests to `batch_fn(list_of_unique_requests)`.

    `window` is in seconds (0 means "the next event-loop iteration"); `max_batch_size` defaults to the
    `LLM_BATCH_SIZE` setting. `key` identifies identical requests (default: the request itself, which
    must then be hashable) and is the lookup key when `batch_fn` returns a mapping. `group` separates
    requests that may not share an upstream call (default: one group). Identical requests that arrive
    while their item is already in flight join it instead of calling upstream again
    (`coalesce_inflight=False` turns that off).
    """

    def __init__(
        self,
        batch_fn: Callable[[list[Req]], Awaitable[BatchResult]],
        window: float = 0.1,
        max_batch_size: int | None = None,
        key: Callable[[Req], Hashable] | None = None,
        *,
        group: Callable[[Req], Hashable] | None = None,
        coalesce_inflight: bool = True,
        name: str = "batcher",
    ) -> None:
        if window < 0:
            raise ValueError(f"window must be >= 0 seconds, got {window}")
        size = get_settings().llm_batch_size if max_batch_size is None else max_batch_size
        if size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {size}")
        self._batch_fn = batch_fn
        self.window = float(window)
        self.max_batch_size = int(size)
        self._key: Callable[[Any], Hashable] = key if key is not None else _identity
        self._group: Callable[[Any], Hashable] = group if group is not None else _single_group
        self._coalesce_inflight = coalesce_inflight
        self.name = name
        self.stats = BatcherStats()
        self._pending: dict[Hashable, _Pending] = {}
        self._inflight: dict[tuple[Hashable, Hashable], _Item] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # bound at first use, never at construction
        self._closed = False

    # -- public surface -------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, request: Req) -> asyncio.Future[Res]:
        """Queue `request`; await the returned future for this caller's own result."""
        if self._closed:
            raise BatcherClosedError(f"{self.name} is closed; submit() after aclose() is not allowed")
        loop = self._bind_loop()
        waiter: asyncio.Future[Res] = loop.create_future()
        stats = self.stats
        stats.submitted += 1
        group = self._group(request)
        key = self._key(request)
        if self._coalesce_inflight:
            running = self._inflight.get((group, key))
            if running is not None:
                running.waiters.append(waiter)
                stats.coalesced += 1
                return waiter
        pending = self._pending.get(group)
        if pending is None:
            pending = self._pending[group] = _Pending()
        item = pending.items.get(key)
        if item is not None:
            item.waiters.append(waiter)
            stats.coalesced += 1
            return waiter
        pending.items[key] = _Item(request, waiter, time.perf_counter())
        if len(pending.items) >= self.max_batch_size:
            self._flush(group)
        elif pending.timer is None:
            pending.timer = loop.call_later(self.window, self._flush, group)
        return waiter

    add_request = submit
    """The seed's name for `submit`."""

    async def flush(self) -> None:
        """Flush every open batch now and wait until they are answered."""
        for group in list(self._pending):
            self._flush(group)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop accepting work, then drain: every queued caller still gets its answer."""
        self._closed = True
        await self.flush()

    async def __aenter__(self) -> IntelligentBatcher[Req, Res]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- internals ------------------------------------------------------------------------------

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._pending or self._tasks:
                raise RuntimeError(f"{self.name} has work pending on another event loop")
            self._loop = loop
        return loop

    def _flush(self, group: Hashable) -> None:
        pending = self._pending.pop(group, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        items = [item for item in pending.items.values() if not _all_cancelled(item)]
        self.stats.cancelled_callers += sum(
            len(item.waiters) for item in pending.items.values() if _all_cancelled(item)
        )
        if not items:
            return
        keys = [k for k, item in pending.items.items() if not _all_cancelled(item)]
        if self._coalesce_inflight:
            for k, item in zip(keys, items, strict=True):
                self._inflight[(group, k)] = item
        assert self._loop is not None
        task = self._loop.create_task(self._run(group, keys, items))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, group: Hashable, keys: list[Hashable], items: list[_Item]) -> None:
        stats = self.stats
        now = time.perf_counter()
        size = len(items)
        stats.batches += 1
        stats.items += size
        stats.size_histogram[size] = stats.size_histogram.get(size, 0) + 1
        for item in items:
            wait = now - item.enqueued
            stats.queue_wait_total += wait
            if wait > stats.queue_wait_max:
                stats.queue_wait_max = wait
        try:
            try:
                result = await self._batch_fn([item.request for item in items])
                outcomes = _match(result, keys)
            except Exception as exc:  # a whole-batch failure fails this batch's callers, nothing later
                stats.failed_batches += 1
                for item in items:
                    _deliver_error(item, exc)
                return
            for item, outcome in zip(items, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    stats.failed_items += 1
                    _deliver_error(item, outcome)
                else:
                    for waiter in item.waiters:
                        if not waiter.done():
                            waiter.set_result(outcome)
        except BaseException as exc:  # cancelled by loop shutdown: nobody may wait forever
            for item in items:
                _deliver_error(item, exc)
            raise
        finally:
            if self._coalesce_inflight:
                for k in keys:
                    self._inflight.pop((group, k), None)


def _all_cancelled(item: _Item) -> bool:
    return all(w.cancelled() for w in item.waiters)


def _deliver_error(item: _Item, exc: BaseException) -> None:
    for waiter in item.waiters:
        if waiter.done():
            continue
        if isinstance(exc, asyncio.CancelledError):
            waiter.cancel()
        else:
            waiter.set_exception(exc)


def _match(result: BatchResult, keys: list[Hashable]) -> list[Any]:
    """Line `batch_fn`'s answer up with the items; a missing key fails only its own item."""
    if isinstance(result, Mapping):
        missing = BatchResultError
        return [
            result[k] if k in result else missing(f"batch_fn returned no result for key {k!r}") for k in keys
        ]
    if isinstance(result, (str, bytes)) or not isinstance(result, Sequence):
        raise BatchResultError(f"batch_fn must return a sequence or a mapping, got {type(result).__name__}")
    if len(result) != len(keys):
        raise BatchResultError(f"batch_fn returned {len(result)} results for {len(keys)} requests")
    return list(result)
