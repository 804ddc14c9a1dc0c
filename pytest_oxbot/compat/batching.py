"""The guide's `IntelligentBatcher(batch_window=0.1)` with `await add_request(request)`.

The guide's class collects requests for a window, groups similar ones and processes each group once. The
toolkit's `IntelligentBatcher` does that per caller (each gets its own answer, identical requests are
coalesced, a failure reaches only its callers); this adapter gives it the guide's names. Without a
`batch_fn` it only groups: each `add_request` returns the batch (list of requests) it was sent with.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from pytest_oxbot.batcher import BatcherStats, BatchResult
from pytest_oxbot.batcher import IntelligentBatcher as _Batcher

__all__ = ["IntelligentBatcher"]


def _request_key(request: Any) -> Hashable:
    """Identical requests share one upstream item: hashable ones as they are, dicts by their JSON."""
    try:
        hash(request)
    except TypeError:
        return json.dumps(request, sort_keys=True, default=repr)
    return request  # type: ignore[no-any-return]


class IntelligentBatcher:
    """Requests added within `batch_window` seconds go to `batch_fn` together (at most `max_batch_size`)."""

    def __init__(
        self,
        batch_window: float = 0.1,
        batch_fn: Callable[[list[Any]], Awaitable[BatchResult]] | None = None,
        *,
        max_batch_size: int | None = None,
        key: Callable[[Any], Hashable] | None = None,
        group: Callable[[Any], Hashable] | None = None,
    ) -> None:
        self.batch_window = batch_window
        self._batch_fn = batch_fn
        self.batches: list[list[Any]] = []
        """Every batch sent, in order (what the guide calls the processed groups)."""
        self._batcher: _Batcher[Any, Any] = _Batcher(
            self._process,
            window=batch_window,
            max_batch_size=max_batch_size,
            key=key or _request_key,
            group=group,
            name="guide-batcher",
        )

    async def add_request(self, request: Any) -> Any:
        """Queue `request`; returns its own result once its batch has been processed."""
        return await self._batcher.submit(request)

    async def _process(self, requests: list[Any]) -> BatchResult:
        self.batches.append(list(requests))
        if self._batch_fn is not None:
            return await self._batch_fn(requests)
        return [list(requests) for _ in requests]

    @property
    def stats(self) -> BatcherStats:
        return self._batcher.stats

    async def aclose(self) -> None:
        """Flush what is queued, then refuse new requests."""
        await self._batcher.aclose()

    async def __aenter__(self) -> IntelligentBatcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
