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
from asyncio import get_running_loop
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pytest_oxbot.errors import BatcherError

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


DEFAULT_MAX_BATCH_SIZE = 5
"""0xBot's LLM_BATCH_SIZE: five symbols per upstream call."""


class BatcherClosedError(BatcherError, RuntimeError):
    """`submit` was called after `aclose()`: the batcher no longer accepts work."""


class BatchResultError(BatcherError, RuntimeError):
    """`batch_fn` returned something that cannot be matched to the requests (wrong length, missing key)."""


@dataclass
class BatcherStats:
    """Counters a monitor or a benchmark can read.

    Queue wait is measured per batch: how long its oldest request waited before the flush (the worst
    wait in that batch, at no per-request cost).
    """

    opened: int = 0
    batches: int = 0
    items: int = 0
    coalesced: int = 0
    failed_items: int = 0
    failed_batches: int = 0
    cancelled_items: int = 0
    size_histogram: dict[int, int] = field(default_factory=dict)
    queue_wait_total: float = 0.0
    queue_wait_max: float = 0.0

    @property
    def submitted(self) -> int:
        """Requests accepted so far (those still in an open batch count once it flushes)."""
        return self.opened + self.coalesced

    @property
    def mean_queue_wait(self) -> float:
        """Mean seconds the oldest request of a batch waited for its flush."""
        return self.queue_wait_total / self.batches if self.batches else 0.0

    @property
    def mean_batch_size(self) -> float:
        return self.items / self.batches if self.batches else 0.0


class _Batch:
    """The open (then in-flight) batch of one group, laid out for a cheap per-request path.

    `firsts` maps each coalescing key to its first caller's future, in request order; identical
    requests that joined wait in `extras[key]`. `requests` is kept only when a `key` function is set
    (with the default identity key, the keys *are* the requests).
    """

    __slots__ = ("extras", "firsts", "opened", "requests", "timer")

    def __init__(self, opened: float, keep_requests: bool) -> None:
        self.firsts: dict[Hashable, asyncio.Future[Any]] = {}
        self.extras: dict[Hashable, list[asyncio.Future[Any]]] = {}
        self.requests: list[Any] | None = [] if keep_requests else None
        self.timer: asyncio.TimerHandle | None = None
        self.opened = opened

    def request_list(self) -> list[Any]:
        return list(self.firsts) if self.requests is None else self.requests

    def waiters(self, key: Hashable) -> list[asyncio.Future[Any]]:
        return [self.firsts[key], *self.extras.get(key, ())]


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
        size = DEFAULT_MAX_BATCH_SIZE if max_batch_size is None else max_batch_size
        if size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {size}")
        self._batch_fn = batch_fn
        self.window = float(window)
        self.max_batch_size = int(size)
        self._key = key
        self._group = group
        self._coalesce_inflight = coalesce_inflight
        self.name = name
        self.stats = BatcherStats()
        self._pending: dict[Hashable, _Batch] = {}
        self._inflight: dict[Hashable, dict[Hashable, _Batch]] = {}  # group -> key -> batch in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None  # bound at first use, never at construction
        self._accepting: asyncio.AbstractEventLoop | None = None  # the loop submit() may take, if open
        self._plain = key is None and group is None
        self._closed = False

    # -- public surface -------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, request: Req) -> asyncio.Future[Res]:
        """Queue `request`; await the returned future for this caller's own result."""
        loop = get_running_loop()
        if loop is not self._accepting:
            self._accept(loop)  # first use, a new loop, or closed
        waiter: asyncio.Future[Res] = loop.create_future()
        if self._plain:
            group: Hashable = None
            key: Hashable = request
        else:
            group = None if self._group is None else self._group(request)
            key = request if self._key is None else self._key(request)
        if self._inflight:
            running = self._inflight.get(group)
            if running is not None and key in running:
                return self._join(running[key], key, waiter)
        batch = self._pending.get(group)
        if batch is None:
            batch = self._open(group, loop)
        firsts = batch.firsts
        if key in firsts:  # an identical request: the same upstream item, a future of its own
            extras = batch.extras.get(key)
            if extras is None:
                batch.extras[key] = [waiter]
            else:
                extras.append(waiter)
            self.stats.coalesced += 1
            return waiter
        firsts[key] = waiter
        if batch.requests is not None:
            batch.requests.append(request)
        if len(firsts) >= self.max_batch_size:
            self._flush(group)
        return waiter

    add_request = submit
    """0xBot's name for `submit`."""

    def _join(self, batch: _Batch, key: Hashable, waiter: asyncio.Future[Res]) -> asyncio.Future[Res]:
        """An identical request: wait for the same upstream item (with a future of its own)."""
        extras = batch.extras.get(key)
        if extras is None:
            batch.extras[key] = [waiter]
        else:
            extras.append(waiter)
        self.stats.coalesced += 1
        return waiter

    async def flush(self) -> None:
        """Flush every open batch now and wait until they are answered."""
        for group in list(self._pending):
            self._flush(group)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop accepting work, then drain: every queued caller still gets its answer."""
        self._closed = True
        self._accepting = None
        await self.flush()

    async def __aenter__(self) -> IntelligentBatcher[Req, Res]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- internals ------------------------------------------------------------------------------

    def _open(self, group: Hashable, loop: asyncio.AbstractEventLoop) -> _Batch:
        """A new batch for `group`, whose window starts now."""
        batch = self._pending[group] = _Batch(loop.time(), self._key is not None)
        batch.timer = loop.call_later(self.window, self._flush, group)
        return batch

    def _accept(self, loop: asyncio.AbstractEventLoop) -> None:
        """The slow path of `submit`: refuse after close, else (re)bind to the running loop."""
        if self._closed:
            raise BatcherClosedError(f"{self.name} is closed; submit() after aclose() is not allowed")
        if loop is not self._loop:
            self._rebind(loop)
        self._accepting = loop

    def _rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve a new event loop; work left on a closed loop can never finish and is dropped."""
        old = self._loop
        if (self._pending or self._tasks) and old is not None and not old.is_closed():
            raise RuntimeError(f"{self.name} has work pending on another, still running event loop")
        self._pending.clear()
        self._inflight.clear()
        self._tasks.clear()
        self._loop = loop

    def _flush(self, group: Hashable) -> None:
        batch = self._pending.pop(group, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        self.stats.opened += len(batch.firsts)
        if any(map(asyncio.Future.cancelled, batch.firsts.values())):
            batch = _without_abandoned(batch, self.stats)
            if not batch.firsts:
                return
        if self._coalesce_inflight:
            running = self._inflight.get(group)
            if running is None:
                self._inflight[group] = dict.fromkeys(batch.firsts, batch)
            else:
                running.update(dict.fromkeys(batch.firsts, batch))
        assert self._loop is not None
        task = self._loop.create_task(self._run(group, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, group: Hashable, batch: _Batch) -> None:
        stats = self.stats
        assert self._loop is not None
        wait = self._loop.time() - batch.opened
        firsts = batch.firsts
        size = len(firsts)
        stats.batches += 1
        stats.items += size
        stats.size_histogram[size] = stats.size_histogram.get(size, 0) + 1
        stats.queue_wait_total += wait
        if wait > stats.queue_wait_max:
            stats.queue_wait_max = wait
        try:
            try:
                result = await self._batch_fn(batch.request_list())
                outcomes = _match(result, firsts)
            except Exception as exc:  # a whole-batch failure fails this batch's callers, nothing later
                stats.failed_batches += 1
                for key in firsts:
                    _deliver_error(batch.waiters(key), exc)
                return
            exc_type = BaseException
            for waiter, outcome in zip(firsts.values(), outcomes, strict=True):
                if isinstance(outcome, exc_type):
                    stats.failed_items += 1
                    _deliver_error((waiter,), outcome)
                else:
                    try:  # noqa: SIM105 - the hot path: cheaper than contextlib.suppress or done()
                        waiter.set_result(outcome)
                    except asyncio.InvalidStateError:
                        pass  # that caller was cancelled; the others still get their answer
            if batch.extras:
                _deliver_extras(batch, outcomes)
        except BaseException as exc:  # cancelled by loop shutdown: nobody may wait forever
            for key in firsts:
                _deliver_error(batch.waiters(key), exc)
            raise
        finally:
            if self._coalesce_inflight:
                running = self._inflight[group]
                if len(running) == size:
                    del self._inflight[group]  # the common case: this was the group's only batch in flight
                else:
                    for key in firsts:
                        del running[key]


def _deliver_extras(batch: _Batch, outcomes: Sequence[Any]) -> None:
    """Give identical requests their item's outcome, read back from the first caller's future (its
    position among the outcomes is looked up only when that caller was cancelled before delivery)."""
    position: dict[Hashable, int] | None = None
    firsts = batch.firsts
    for key, extras in batch.extras.items():
        first = firsts[key]
        if first.cancelled():
            if position is None:
                position = {k: i for i, k in enumerate(firsts)}
            outcome = outcomes[position[key]]
        else:
            outcome = first.exception() or first.result()
        if isinstance(outcome, BaseException):
            _deliver_error(extras, outcome)
            continue
        for waiter in extras:
            if not waiter.done():
                waiter.set_result(outcome)


def _without_abandoned(batch: _Batch, stats: BatcherStats) -> _Batch:
    """The batch minus items whose callers all gave up before the flush (nobody would read them)."""
    kept = _Batch(batch.opened, batch.requests is not None)
    requests = batch.request_list()
    for request, key in zip(requests, list(batch.firsts), strict=True):
        waiters = batch.waiters(key)
        if all(w.cancelled() for w in waiters):
            stats.cancelled_items += 1
            continue
        kept.firsts[key] = waiters[0]
        if kept.requests is not None:
            kept.requests.append(request)
        if len(waiters) > 1:
            kept.extras[key] = waiters[1:]
    return kept


def _deliver_error(waiters: Iterable[asyncio.Future[Any]], exc: BaseException) -> None:
    for waiter in waiters:
        if waiter.done():
            continue
        if isinstance(exc, asyncio.CancelledError):
            waiter.cancel()
        else:
            waiter.set_exception(exc)


def _match(result: BatchResult, keys: Mapping[Hashable, Any]) -> Sequence[Any]:
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
    return result
