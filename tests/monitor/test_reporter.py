"""The reporter: what it reads from each component, once; names it accepts; what it writes is safe JSON."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.llm.report import CallRecord, CostLedger
from pytest_oxbot.monitor.dashboard import panels
from pytest_oxbot.monitor.fleet import MAX_SNAPSHOT_BYTES
from pytest_oxbot.monitor.reporter import MetricsReporter


def _client(clock: FakeClock) -> Any:
    return SimpleNamespace(
        ledger=CostLedger(),
        clock=clock,
        budget=SimpleNamespace(daily_limit=Decimal("10"), stopped=None),
        router=SimpleNamespace(default_model="gpt-4o-mini", forced_model=None),
    )


def _record(clock: FakeClock, *, hit: bool = False, latency: float = 0.6, cost: str = "0.0001") -> CallRecord:
    return CallRecord(clock.time(), "gpt-4o-mini", hit, Decimal(cost), 900, 0, 60, latency)


def test_ledger_records_are_counted_once_and_a_new_ledger_starts_over() -> None:
    clock = FakeClock()
    client = _client(clock)
    reporter = MetricsReporter("p", clock=clock).watch_llm(client)
    client.ledger.add(_record(clock))
    client.ledger.add(_record(clock, hit=True, cost="0"))
    first = reporter.snapshot()["llm"]["llm"]["models"]["gpt-4o-mini"]
    again = reporter.snapshot()["llm"]["llm"]["models"]["gpt-4o-mini"]
    assert first == again  # nothing new: nothing counted twice
    assert (first["requests"], first["hits"], first["calls"], first["cost"]) == (2, 1, 1, "0.0001")
    assert sum(first["buckets"]) == 1
    assert first["lat_sum"] == 0.6
    client.ledger.add(_record(clock, latency=40.0))  # beyond the last bound: the +Inf bucket
    third = reporter.snapshot()["llm"]["llm"]["models"]["gpt-4o-mini"]
    assert third["buckets"][-1] == 1
    assert third["calls"] == 2
    client.ledger = CostLedger()
    client.ledger.add(_record(clock))
    assert reporter.snapshot()["llm"]["llm"]["models"]["gpt-4o-mini"]["calls"] == 3


def test_cost_today_follows_the_clients_clock() -> None:
    clock = FakeClock()
    client = _client(clock)
    reporter = MetricsReporter("p", clock=clock).watch_llm(client)
    client.ledger.add(_record(clock, cost="0.5"))
    assert reporter.snapshot()["llm"]["llm"]["cost_today"] == "0.5"
    clock.advance(86_400)
    snap = reporter.snapshot()["llm"]["llm"]
    assert snap["cost_today"] == "0"
    assert snap["budget_limit"] == "10"


async def test_sql_statements_and_pool_are_read(oxbot_db: AsyncEngine) -> None:
    reporter = MetricsReporter("p").watch_engine(oxbot_db)
    async with oxbot_db.connect() as conn:
        for _ in range(3):
            await conn.execute(text("SELECT 1"))
    db = reporter.snapshot()["db"]["db"]
    assert db["statements"] >= 3
    assert db["time_s"] > 0
    reporter.close()
    async with oxbot_db.connect() as conn:
        await conn.execute(text("SELECT 1"))
    assert reporter.snapshot()["db"]["db"]["statements"] == db["statements"]  # listeners removed


@pytest.mark.parametrize("name", ["a b", "<script>", "x" * 121, "bot\n1"])
def test_process_names_are_label_safe(name: str) -> None:
    with pytest.raises(ValueError, match="process must be"):
        MetricsReporter(name)


def test_component_names_are_unique_words() -> None:
    reporter = MetricsReporter("p")
    cache = SimpleNamespace()
    reporter.watch_cache(cache, "c")
    with pytest.raises(ValueError, match="already watched"):
        reporter.watch_cache(cache, "c")
    with pytest.raises(ValueError, match="short word"):
        reporter.watch_cache(cache, "two words")


def test_snapshot_is_strict_json_and_small() -> None:
    clock = FakeClock()
    client = _client(clock)
    reporter = MetricsReporter("p", clock=clock).watch_llm(client)
    for _ in range(1000):
        client.ledger.add(_record(clock))
    raw = reporter.to_json()
    assert len(raw) < MAX_SNAPSHOT_BYTES / 20  # counters, not records: the size does not grow with calls
    assert json.loads(raw)["process"] == "p"


def test_the_page_escapes_what_came_from_redis() -> None:
    status = {"processes": [{"process": "bot-1"}], "sample_interval_s": 5}
    alerts = {
        "active": [],
        "applied": {
            "bot-1": [
                {
                    "action": "<img src=x onerror=alert(1)>",
                    "alert": "a",
                    "detail": "<script>x</script>",
                    "ok": True,
                }
            ]
        },
    }
    html = panels({}, alerts, [], status, now=0.0, hours=1)
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
