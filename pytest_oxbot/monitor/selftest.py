"""`python -m pytest_oxbot.monitor --test`: the monitor on a free loopback port, a replay, every endpoint.

The bot is `DemoBot` on the fakes (FakeExchange, FakeLLMProvider) with an embedded cache; the monitor
samples it on the replay's clock. Halfway through, the provider gets slow: the latency alert must fire
and route the client to the faster model. Then every endpoint is called over real HTTP and checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.fakes.exchange import DEFAULT_REPLAY_START
from pytest_oxbot.monitor.config import AlertRule, MonitorConfig
from pytest_oxbot.monitor.demo import DemoBot
from pytest_oxbot.monitor.history import HistoryStore
from pytest_oxbot.monitor.reporter import MetricsReporter
from pytest_oxbot.monitor.service import Monitor

__all__ = ["run_selftest", "selftest_config"]


def selftest_config() -> MonitorConfig:
    return MonitorConfig(
        sample_interval_s=180,
        history_resolution_s=180,
        alerts=(
            AlertRule(
                name="llm_response_time_high",
                metric="llm_response_time",
                when="above",
                threshold=1.0,
                clear_at=0.8,
                window_s=540,
                min_samples=2,
                clear_for_s=3600,
                action="switch_to_faster_model",
                params={"model": "gpt-4.1-nano"},
            ),
            AlertRule(
                name="cost_daily_limit",
                metric="cost_today_usd",
                when="above",
                threshold=10.0,
                action="emergency_stop",
            ),
        ),
    )


async def run_selftest(out: Callable[[str], None] = print, *, cycles: int = 24) -> bool:
    """True when every check passed; each check prints one `ok`/`FAIL` line."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from pytest_oxbot.monitor.app import serve

    results: list[bool] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        results.append(bool(ok))
        mark = "ok  " if ok else "FAIL"
        out(f"{mark} {name}" + (f" ({detail})" if detail else ""))

    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="oxbot-monitor-selftest-") as tmp:
        clock = FakeClock(DEFAULT_REPLAY_START)  # the replay's market time drives cache, reporter, monitor
        cache = HierarchicalCache.in_memory(namespace="selftest", clock=clock)
        reporter = MetricsReporter("selftest-bot", clock=clock)
        bot = DemoBot(cache=cache, reporter=reporter, clock=clock)
        history = HistoryStore.from_url(f"sqlite+aiosqlite:///{Path(tmp) / 'history.sqlite3'}")
        monitor = Monitor(selftest_config(), reporters=[reporter], history=history, clock=clock)
        port: list[int] = []
        server = asyncio.create_task(serve(monitor, port=0, token=token, on_ready=port.append, sample=False))
        try:
            async with bot:
                while not port and not server.done():  # noqa: ASYNC110 (serve reports through a callback)
                    await asyncio.sleep(0.02)
                if server.done():
                    await server
                bot.set_latency("gpt-4o-mini", 0.6)
                bot.set_latency("gpt-4.1-nano", 0.3)
                await monitor.tick()
                for i in range(cycles):
                    if i == cycles // 2:
                        bot.set_latency("gpt-4o-mini", 2.5)  # the provider degrades
                    await bot.cycle()
                    await monitor.tick()
                check(
                    "replay",
                    bot.cycles == cycles,
                    f"{bot.cycles} cycles, models {sorted(set(bot.models_used))}",
                )
                check(
                    "latency alert switched the model",
                    bot.llm.router.forced_model == "gpt-4.1-nano",
                    f"router forced to {bot.llm.router.forced_model}",
                )
            # After the fakes are unmounted: respx would intercept this client's loopback requests too.
            base = f"http://127.0.0.1:{port[0]}"
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                await _check_endpoints(http, token, check, text_string_to_metric_families)
        except Exception as exc:
            check("self-test ran to the end", False, f"{type(exc).__name__}: {exc}")
        finally:
            server.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await server
            await monitor.aclose()
            await cache.aclose()
    out(f"{sum(results)}/{len(results)} checks passed")
    return all(results)


async def _check_endpoints(http: Any, token: str, check: Callable[..., None], parse: Any) -> None:
    r = await http.get("/performance")
    check("GET /performance", r.status_code == 200 and 'id="panels"' in r.text, str(r.status_code))
    r = await http.get("/performance/panels", params={"hours": 2})
    check("GET /performance/panels", r.status_code == 200 and r.text.count("<svg") >= 7, str(r.status_code))
    r = await http.get("/performance/metrics")
    fleet = r.json().get("fleet", {}) if r.status_code == 200 else {}
    check(
        "GET /performance/metrics",
        fleet.get("cache_hit_rate") is not None,
        f"hit rate {fleet.get('cache_hit_rate')}, latency {fleet.get('llm_response_time')}",
    )
    r = await http.get("/performance/alerts")
    active = [a["name"] for a in r.json().get("active", [])] if r.status_code == 200 else []
    check("GET /performance/alerts", "llm_response_time_high" in active, f"active {active}")
    r = await http.get("/performance/history", params={"metric": "cache_hit_rate", "hours": 2})
    points = r.json().get("points", []) if r.status_code == 200 else []
    check("GET /performance/history", len(points) >= 5, f"{len(points)} points")
    r = await http.get("/performance/history", params={"metric": "cache_hit_rate", "hours": 1e9})
    check(
        "history range is bounded",
        r.status_code == 200 and r.json()["hours"] <= 24,
        str(r.json().get("hours")),
    )
    r = await http.get("/performance/status")
    check("GET /performance/status", r.status_code == 200 and len(r.json()["processes"]) == 1)
    r = await http.get("/health/performance")
    check("GET /health/performance", r.status_code == 200 and r.json()["status"] == "degraded", r.text[:80])
    r = await http.get("/metrics")
    names = {f.name for f in parse(r.text)} if r.status_code == 200 else set()
    check("GET /metrics parses", "oxbot_llm_request_duration_seconds" in names, f"{len(names)} families")
    r = await http.get("/performance/openapi.json")
    check("OpenAPI document", r.status_code == 200 and "/performance/history" in r.json().get("paths", {}))
    r = await http.post("/performance/cache/flush")
    check("POST without token is refused", r.status_code == 401, str(r.status_code))
    auth = {"Authorization": f"Bearer {token}"}
    r = await http.post(
        "/performance/cache/flush", headers={**auth, "Content-Type": "application/json"}, content=b"{not json"
    )
    check("malformed JSON is a 400", r.status_code == 400, str(r.status_code))
    r = await http.post("/performance/cache/flush", headers=auth, json={"reason": "self-test"})
    check("POST /performance/cache/flush", r.status_code == 200 and r.json()["local"], r.text[:100])
    r = await http.post("/performance/metrics/reset", headers=auth, json={})
    check(
        "POST /performance/metrics/reset",
        r.status_code == 200 and "llm_response_time_high" in r.json()["withdrawn"],
        r.text[:100],
    )
