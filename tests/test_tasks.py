"""Stopping background tasks: a swallowed cancellation must not hang a shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from pytest_oxbot._tasks import stop


async def _loops_after_one_swallowed_cancel(seen: list[str]) -> None:
    """What a listener does when its driver turns a cancel into a read timeout: goes round again."""
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if seen:
                raise
            seen.append("swallowed")


async def _never_stops() -> None:
    while True:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)


async def test_a_task_that_swallows_one_cancel_is_cancelled_again() -> None:
    seen: list[str] = []
    task = asyncio.create_task(_loops_after_one_swallowed_cancel(seen))
    await asyncio.sleep(0)
    assert await stop([task], recancel_every=0.01) == []
    assert seen == ["swallowed"]
    assert task.cancelled()


async def test_a_task_that_never_stops_is_left_with_a_warning_naming_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    task = asyncio.create_task(_never_stops(), name="stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="pytest_oxbot"):
        left = await stop([task], within=0.05, recancel_every=0.01)
    assert left == [task]
    assert "stubborn did not stop" in caplog.text
    task.get_coro().close()  # end it for good: it would outlive the test


async def test_a_failed_task_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise ValueError("boom")

    task = asyncio.create_task(fails(), name="failing")
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="pytest_oxbot"):
        assert await stop([task]) == []
    assert "failing failed" in caplog.text


async def test_the_callers_own_cancellation_propagates() -> None:
    inner = asyncio.create_task(_never_stops())
    await asyncio.sleep(0)
    outer = asyncio.create_task(stop([inner], within=60, recancel_every=0.01))
    await asyncio.sleep(0.05)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    inner.get_coro().close()


def test_tasks_of_another_loop_are_skipped() -> None:
    """pytest runs each test on a new loop: a cache closed on the next one must not touch the old task."""
    old = asyncio.new_event_loop()
    task = old.create_task(asyncio.sleep(3600))
    old.run_until_complete(asyncio.sleep(0))
    assert asyncio.run(stop([task])) == []
    assert not task.done()
    task.cancel()
    old.run_until_complete(asyncio.wait([task]))
    old.close()


class _SwallowingTick:
    """A step that swallows the cancellation arriving while it waits, as redis-py does (#2551)."""

    def __init__(self) -> None:
        self.calls = 0
        self.entered = asyncio.Event()

    async def __call__(self, *args: object) -> None:
        self.calls += 1
        self.entered.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)


async def test_the_monitor_loop_ends_when_a_tick_swallows_its_cancel(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_oxbot.monitor import Monitor
    from pytest_oxbot.monitor.config import default_config

    monitor = Monitor(default_config())
    tick = _SwallowingTick()
    monkeypatch.setattr(monitor, "tick", tick)
    task = asyncio.create_task(monitor.run())
    await tick.entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)  # before: the loop slept and ticked on, for ever
    assert tick.calls == 1


async def test_the_reporter_loop_ends_when_a_publish_swallows_its_cancel() -> None:
    from pytest_oxbot.monitor.reporter import MetricsReporter

    publish = _SwallowingTick()

    class Link:
        async def publish(self, reporter: object) -> None:
            await publish(reporter)

    task = asyncio.create_task(MetricsReporter("bot").publish_forever(Link(), interval_s=0.01))
    await publish.entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert publish.calls == 1
