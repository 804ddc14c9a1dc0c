"""The recorder behind the `oxbot_kpi` fixture, with a scripted timer (no wall-clock assertions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.measure import KpiRecorder


class Ticks:
    """A timer that advances by a fixed step each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


Record = tuple[str, float, tuple[float, ...], str]


def _recorder(step: float = 0.25) -> tuple[KpiRecorder, list[Record]]:
    seen: list[Record] = []

    def sink(name: str, value: float, samples: Sequence[float], source: str) -> None:
        seen.append((name, value, tuple(samples), source))

    return KpiRecorder(sink, timer=Ticks(step)), seen


def test_record_validates_names_and_values() -> None:
    rec, seen = _recorder()
    rec.record("prompt_tokens", 2400, samples=[1, 2])
    assert seen == [("prompt_tokens", 2400.0, (1.0, 2.0), "explicit")]
    rec.record("prompt_tokens", np.int64(7))
    assert seen[-1][1] == 7.0
    with pytest.raises(KpiUsageError, match="unknown KPI 'tokens'"):
        rec.record("tokens", 1)
    with pytest.raises(KpiUsageError, match="must be a number"):
        rec.record("prompt_tokens", "2400")  # type: ignore[arg-type]


def test_measure_records_elapsed_time() -> None:
    rec, seen = _recorder(0.25)
    with rec.measure("decision_time") as timing:
        pass
    assert timing.seconds == 0.25
    assert seen == [("decision_time", 0.25, (), "measure")]


async def test_measure_async_records_elapsed_time() -> None:
    rec, seen = _recorder(0.5)
    async with rec.measure_async("fetch_latency") as timing:
        pass
    assert timing.seconds == 0.5
    assert seen[0][:2] == ("fetch_latency", 0.5)


def test_track_memory_sees_an_allocation() -> None:
    rec, seen = _recorder()
    with rec.track_memory() as peak:
        block = bytearray(8 * 2**20)
        del block
    assert peak.megabytes >= 7.5
    assert seen[0][0] == "memory_usage_mb"
    assert seen[0][1] == peak.megabytes


async def test_benchmark_async_runs_rounds_on_this_loop() -> None:
    rec, seen = _recorder(0.1)
    calls: list[int] = []

    async def work(n: int) -> None:
        calls.append(n)

    result = await rec.benchmark_async(work, 7, name="cycle_time", rounds=4, warmup=2)
    assert calls == [7] * 6
    assert result.samples == pytest.approx([0.1] * 4)
    name, value, samples, source = seen[0]
    assert (name, source, len(samples)) == ("cycle_time", "benchmark_async", 4)
    assert value == pytest.approx(0.1)


async def test_benchmark_async_rejects_zero_rounds() -> None:
    rec, _ = _recorder()

    async def work() -> None:
        return None

    with pytest.raises(KpiUsageError, match="rounds"):
        await rec.benchmark_async(work, name="cycle_time", rounds=0)
