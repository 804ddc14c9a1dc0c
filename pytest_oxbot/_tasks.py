"""Stopping background tasks so that a shutdown always ends.

`task.cancel(); await task` hangs for ever when the task swallows its cancellation and loops on: CPython
3.11's `asyncio.wait_for` can drop a cancel that arrives as the awaited work finishes, and drivers do
the same when a cancel meets their own read timeout (redis-py #2551). A listener that then goes round
its loop again never ends, and neither does the `aclose()` awaiting it. `stop()` cancels again until
the task ends and gives up, with a warning naming the task, after a bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("pytest_oxbot")

STOP_WITHIN = 10.0
"""Seconds `stop()` waits in all before it leaves a task running."""

RECANCEL_EVERY = 1.0
"""Seconds between cancels: long enough for a task's own clean-up (closing a connection) to finish."""


async def stop(
    tasks: Iterable[asyncio.Task[Any]],
    *,
    within: float = STOP_WITHIN,
    recancel_every: float = RECANCEL_EVERY,
) -> list[asyncio.Task[Any]]:
    """Cancel the tasks of the running loop and wait until they end; return those that did not.

    Tasks of another (closed) loop are skipped: nothing runs them any more. A task that ended with an
    exception has it logged, not raised: a shutdown goes on. The caller's own cancellation propagates.
    """
    loop = asyncio.get_running_loop()
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done() and t.get_loop() is loop}
    deadline = loop.time() + within
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(recancel_every, left))
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("background task %s failed", task.get_name(), exc_info=task.exception())
    for task in pending:
        log.warning(
            "background task %s did not stop within %.1f s of being cancelled; left running",
            task.get_name(),
            within,
        )
    return sorted(pending, key=lambda t: t.get_name())


def honour_swallowed_cancel() -> None:
    """Raise CancelledError if this task was asked to stop and the awaited call swallowed it: redis-py
    does when a cancel meets its own read timeout (#2551), and a loop that goes round again after such
    a call would never end. Call it between the steps of a `while True` loop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
