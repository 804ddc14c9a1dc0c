"""The HTTP service over httpx's ASGI transport: auth, bad input, bounded history, /metrics, OpenAPI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pytest_oxbot.monitor.app import check_bind, create_app
from pytest_oxbot.monitor.config import default_config
from pytest_oxbot.monitor.demo import DemoBot
from pytest_oxbot.monitor.errors import MonitorStartError
from pytest_oxbot.monitor.service import Monitor

from .conftest import run_cycles

POSTS = ("/performance/cache/flush", "/performance/metrics/reset")


@pytest.mark.parametrize("path", POSTS)
async def test_mutating_endpoints_need_the_token(oxbot_monitor: Any, path: str) -> None:
    async with oxbot_monitor.http(authorized=False) as http:
        r = await http.post(path)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert "token" in r.json()["error"]
        r = await http.post(path, headers={"Authorization": "Bearer " + "x" * 32})
        assert r.status_code == 401
        # Checked before the body: an unauthenticated caller learns nothing from its JSON.
        r = await http.post(path, content=b"{oops", headers={"Content-Type": "application/json"})
        assert r.status_code == 401
    async with oxbot_monitor.http() as http:
        assert (await http.post(path)).status_code == 200


async def test_without_a_configured_token_mutating_endpoints_are_disabled() -> None:
    app = create_app(Monitor(default_config()), token=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as http:
        r = await http.post("/performance/metrics/reset", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 401
    assert "OXBOT_MONITOR_TOKEN" in r.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/performance/cache/flush", b"{not json", 400, "malformed JSON"),
        ("/performance/metrics/reset", b'{"history": ', 400, "malformed JSON"),
        ("/performance/cache/flush", b'{"reason": 5}', 422, "reason"),
        ("/performance/metrics/reset", b'{"history": "yes"}', 422, "history"),
        ("/performance/metrics/reset", b'{"histroy": true}', 422, "histroy"),
        ("/performance/metrics/reset", b"[1, 2]", 422, "body"),
        ("/performance/cache/flush", b'{"reason": "' + b"x" * 500 + b'"}', 422, "reason"),
    ],
)
async def test_bad_bodies_are_4xx_with_a_message(
    oxbot_monitor: Any, path: str, body: bytes, status: int, words: str
) -> None:
    async with oxbot_monitor.http() as http:
        r = await http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status
    assert words in r.json()["error"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("hours=0", "greater than 0"),
        ("hours=-5", "greater than 0"),
        ("hours=nan", "finite"),
        ("hours=inf", "finite"),
        ("hours=many", "number"),
        ("metric=price_of_tea", "cache_hit_rate"),
        ("process=" + "p" * 200, "process"),
    ],
)
async def test_history_rejects_bad_queries(oxbot_monitor: Any, query: str, words: str) -> None:
    async with oxbot_monitor.http() as http:
        r = await http.get("/performance/history?" + query)
    assert r.status_code == 422
    assert words in r.json()["error"]


async def test_history_is_bounded_and_served_from_sql(oxbot_monitor: Any, demo_bot: DemoBot) -> None:
    await run_cycles(demo_bot, oxbot_monitor, 6)
    async with oxbot_monitor.http() as http:
        r = await http.get("/performance/history", params={"metric": "cache_hit_rate", "hours": 1e12})
        body = r.json()
        assert r.status_code == 200
        assert body["hours"] == oxbot_monitor.config.history_hours
        assert body["requested_hours"] == 1e12
        times = [t for t, _ in body["points"]]
        # One point per sample after the first (the first has nothing to difference against).
        assert len(times) == 5
        assert times == sorted(times)
        assert all(0.0 <= v <= 1.0 for _, v in body["points"])
        r = await http.get(
            "/performance/history",
            params={"metric": "memory_mb", "hours": 0.1, "process": oxbot_monitor.reporter.process},
        )
        assert r.status_code == 200
        assert r.json()["points"]


async def test_metrics_parse_with_prometheus_client(oxbot_monitor: Any, demo_bot: DemoBot) -> None:
    await run_cycles(demo_bot, oxbot_monitor, 5)
    async with oxbot_monitor.http() as http:
        r = await http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    latency = families["oxbot_llm_request_duration_seconds"]
    assert latency.type == "histogram"
    buckets = [s for s in latency.samples if s.name.endswith("_bucket")]
    assert [s.value for s in buckets] == sorted(s.value for s in buckets)  # cumulative
    count = next(s.value for s in latency.samples if s.name.endswith("_count"))
    misses = sum(1 for rec in demo_bot.llm.ledger.records if not rec.cache_hit and not rec.estimated)
    assert count == misses > 0
    requests = families["oxbot_llm_requests"]
    assert requests.type == "counter"
    assert all(s.name == "oxbot_llm_requests_total" for s in requests.samples)
    hits = sum(s.value for s in families["oxbot_cache_hits"].samples if s.name.endswith("_total"))
    assert hits == demo_bot.cache.stats().hits
    labels = {k for f in families.values() for s in f.samples for k in s.labels}
    assert labels <= {
        "process",
        "cache",
        "tier",
        "model",
        "kind",
        "batcher",
        "client",
        "endpoint",
        "db",
        "alert",
        "le",
    }
    assert families["oxbot_process_resident_memory_bytes"].samples[0].value > 1e6


async def test_json_endpoints_and_openapi(oxbot_monitor: Any, demo_bot: DemoBot) -> None:
    async with oxbot_monitor.http() as http:
        r = await http.get("/health/performance")
        assert r.status_code == 503
        assert r.json()["status"] == "no_data"
        await run_cycles(demo_bot, oxbot_monitor, 3)
        r = await http.get("/health/performance")
        assert r.status_code == 200
        assert r.json()["status"] == "ok"
        metrics = (await http.get("/performance/metrics")).json()
        assert metrics["fleet"]["api_calls_per_cycle"] == 1.0  # five tickers, one batched request
        assert metrics["units"]["llm_response_time"] == "s"
        alerts = (await http.get("/performance/alerts")).json()
        assert {a["name"] for a in alerts["rules"]} == {a.name for a in oxbot_monitor.config.alerts}
        status = (await http.get("/performance/status")).json()
        assert [p["process"] for p in status["processes"]] == [oxbot_monitor.reporter.process]
        spec = (await http.get("/performance/openapi.json")).json()
    paths = spec["paths"]
    for path in (
        "/performance/metrics",
        "/performance/alerts",
        "/performance/history",
        "/performance/status",
        "/health/performance",
        "/performance/cache/flush",
        "/performance/metrics/reset",
    ):
        assert path in paths
    history_params = {p["name"] for p in paths["/performance/history"]["get"]["parameters"]}
    assert history_params == {"metric", "hours", "process"}
    assert "HistoryOut" in spec["components"]["schemas"]
    assert paths["/performance/cache/flush"]["post"]["security"]


async def test_flush_clears_every_tier_of_the_running_cache(oxbot_monitor: Any, demo_bot: DemoBot) -> None:
    await demo_bot.cache.set("k", "v")
    await oxbot_monitor.tick()
    async with oxbot_monitor.http() as http:
        r = await http.post("/performance/cache/flush", json={"reason": "test"})
    assert r.status_code == 200
    assert r.json()["local"]
    assert await demo_bot.cache.get("k") is None
    assert demo_bot.cache.stats().tiers["l2"].hits == 0


def test_non_loopback_address_needs_a_token() -> None:
    with pytest.raises(MonitorStartError, match="OXBOT_MONITOR_TOKEN"):
        check_bind("0.0.0.0", None)
    with pytest.raises(MonitorStartError, match="too short"):
        check_bind("0.0.0.0", "short")
    check_bind("0.0.0.0", "t" * 24)
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("localhost", None)


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from pytest_oxbot.errors import MissingExtraError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a)
    )
    with pytest.raises(MissingExtraError, match=r"pytest-oxbot\[monitor\]"):
        create_app(Monitor(default_config()))
