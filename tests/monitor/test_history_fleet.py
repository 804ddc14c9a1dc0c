"""History survives a restart of the monitor; the fleet in Redis is JSON only and aggregated per process."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.monitor.actions import ActionBoard
from pytest_oxbot.monitor.aggregate import flatten, quantile, window_delta
from pytest_oxbot.monitor.config import MonitorConfig
from pytest_oxbot.monitor.errors import SnapshotError
from pytest_oxbot.monitor.fleet import RedisFleet, RedisReporterLink, parse_snapshot
from pytest_oxbot.monitor.history import AlertRecord, HistoryStore
from pytest_oxbot.monitor.reporter import MetricsReporter
from pytest_oxbot.monitor.service import Monitor

from .conftest import rule


async def test_history_survives_a_monitor_restart_and_is_trimmed(
    oxbot_db: AsyncEngine, oxbot_clock: FakeClock
) -> None:
    config = MonitorConfig(
        history_hours=1, history_resolution_s=60, alerts=(rule("m", "memory_mb", "above", 1e9),)
    )
    reporter = MetricsReporter("bot-1", clock=oxbot_clock)
    first = Monitor(config, reporters=[reporter], history=HistoryStore(oxbot_db), clock=oxbot_clock)
    for _ in range(90):  # 90 minutes: the first half hour falls out of the 1 h retention
        await first.tick()
        oxbot_clock.advance(60)
    await first.history.add_alert(AlertRecord(oxbot_clock.time(), "m", "fired", 1.0, 1e9, None, "test"))

    second = Monitor(config, reporters=[reporter], history=HistoryStore(oxbot_db), clock=oxbot_clock)
    await second.start()  # a fresh process: nothing in memory
    view = await second.history_view("memory_mb", hours=1)
    times = [t for t, _ in view["points"]]
    assert len(times) == 60
    assert times[0] >= oxbot_clock.time() - 3600
    assert all(v > 1 for _, v in view["points"])
    assert [r["event"] for r in await second.alert_history(1)] == ["fired"]
    assert await second.history.processes(since=0) == ["*", "bot-1"]
    downsampled = await second.history.series("memory_mb", since=0, max_points=10)
    assert len(downsampled) == 10


async def test_fleet_snapshots_are_json_and_summed_over_processes(
    oxbot_redis: Any, oxbot_key_prefix: str
) -> None:
    clock = FakeClock()
    reporters = [
        MetricsReporter(f"bot-{i}", clock=clock, memory_probe=lambda i=i: ((i + 1) * 2**20, 0))
        for i in range(2)
    ]
    for i, r in enumerate(reporters):
        r.record_cycle(i + 1)
    links = [RedisReporterLink(oxbot_redis, prefix=oxbot_key_prefix, ttl_s=30) for _ in reporters]
    for link, r in zip(links, reporters, strict=True):
        await link.publish(r)
    raw = await oxbot_redis.get("{" + oxbot_key_prefix + "}:snap:bot-0")
    assert json.loads(raw)["process"] == "bot-0"  # JSON, never pickle
    fleet = RedisFleet(oxbot_redis, prefix=oxbot_key_prefix)
    monitor = Monitor(MonitorConfig(), fleet=fleet, clock=clock)
    await monitor.tick()
    assert sorted(monitor.snapshots) == ["bot-0", "bot-1"]
    assert monitor.current.values["memory_mb"] == 2.0  # the largest process
    await links[1].withdraw(reporters[1])
    await monitor.tick()
    assert sorted(monitor.snapshots) == ["bot-0"]


async def test_a_malformed_snapshot_is_ignored_not_trusted(oxbot_redis: Any, oxbot_key_prefix: str) -> None:
    tag = "{" + oxbot_key_prefix + "}"
    await oxbot_redis.zadd(f"{tag}:procs", {"evil": 1, "big": 1})
    await oxbot_redis.set(f"{tag}:snap:evil", b"\x80\x04\x95pickle")
    await oxbot_redis.set(f"{tag}:snap:big", b"{" + b" " * 300_000 + b"}")
    fleet = RedisFleet(oxbot_redis, prefix=oxbot_key_prefix)
    assert await fleet.read() == {}
    assert fleet.rejected == 2


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"[]", "version-1 object"),
        (b'{"v": 1, "process": "a", "t": NaN, "started": 0}', "not JSON"),
        (b'{"v": 1, "process": "a", "t": "now", "started": 0}', "'t' must be a number"),
        (b'{"v": 1, "process": "b", "t": 1, "started": 0}', "expected 'a'"),
        (b'{"v": 1, "process": "a", "t": 1, "started": 0, "caches": []}', "'caches' must be an object"),
    ],
)
def test_snapshot_shape_is_checked(raw: bytes, words: str) -> None:
    with pytest.raises(SnapshotError, match=words):
        parse_snapshot(raw, process="a")


def test_board_round_trips_and_rejects_garbage() -> None:
    from pytest_oxbot.monitor.actions import ActionOrder

    board = ActionBoard(
        {"x": ActionOrder("x", "emergency_stop", {"reason": "r"}, 3, 1.0)}, epoch=2, flush_seq=1
    )
    assert ActionBoard.from_hash({k.encode(): v.encode() for k, v in board.to_hash().items()}) == board
    with pytest.raises(SnapshotError, match="malformed"):
        ActionBoard.from_hash({"x": "{not json"})


def test_counter_resets_and_new_processes() -> None:
    snap = {"started": 100.0, "cycles": 10, "caches": {"c": {"lookups": 10, "hits": 5, "tiers": {}}}}
    then = flatten(snap, 200.0)
    later = flatten({**snap, "cycles": 14}, 260.0)
    assert window_delta(then, later, since=200.0)["cycles"] == 4
    restarted = flatten({**snap, "started": 250.0, "cycles": 3}, 260.0)
    assert window_delta(then, restarted, since=200.0)["cycles"] == 3  # counted since the restart
    assert window_delta(None, later, since=200.0) is None  # started before the window, no earlier point
    assert window_delta(None, restarted, since=200.0)["cycles"] == 3


def test_quantile_interpolates_within_buckets() -> None:
    buckets = [0.0] * 13
    buckets[5] = 10  # all ten calls in (0.75, 1.0]
    assert quantile(0.5, buckets) == pytest.approx(0.875)
    assert quantile(0.5, [0.0] * 13) is None
    buckets[12] = 10  # ten more above the last bound
    assert quantile(0.99, buckets) == 30.0
