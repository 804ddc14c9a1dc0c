"""The shipped Redis configuration (examples/redis.conf) measured: one instance for the cache and the budget.

redis-server is started with the very file (only its port, directory, persistence and a small maxmemory
overridden on the command line), the cache is filled far past the limit, and the budget's day counter
must survive while cache entries are evicted as counted misses, never errors. The same fill on an
`allkeys-lru` server is refused by the budget (see tests/llm/test_budget_hardening.py).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.connections import eviction_policy, make_redis_client
from pytest_oxbot.llm.budget import RedisBudget
from tests.servers import RedisServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def test_one_volatile_lru_instance_keeps_the_budget_while_the_cache_is_evicted(tmp_path: Path) -> None:
    conf = EXAMPLES / "redis.conf"
    server = RedisServer("--maxmemory", "3mb", "--dir", str(tmp_path), config=str(conf)).start()
    budget_client = make_redis_client(server.url)
    cache_client = make_redis_client(server.url)
    try:
        assert await eviction_policy(budget_client) == "volatile-lru"  # read from the shipped file
        budget = RedisBudget(budget_client, Decimal("1.00"))
        check = await budget.check_server()
        assert check.eviction_policy == "volatile-lru"
        for _ in range(4):
            held = await budget.reserve(Decimal("0.10"))
            await budget.settle(held, Decimal("0.10"))
        async with HierarchicalCache(cache_client, None, namespace="conf-test", l1=False) as cache:
            blob = "x" * 20_000
            written = 0
            for i in range(600):  # ~12 MB into a 3 MB server
                await cache.set(f"k{i}", blob)
                written += 1
            found = await cache.get_many([f"k{i}" for i in range(written)])
            stats = cache.stats()
        evicted = written - len(found)
        print(f"\n[redis.conf] {written} values written, {evicted} evicted as misses, budget intact")
        assert evicted > written // 2  # the cache really was evicted ...
        assert stats.tiers["l2"].errors == 0  # ... as misses, never as failures
        assert budget.degraded is None  # ... and the budget's counter was not touched
        assert await budget.spent_today() == Decimal("0.40")
        held = await budget.reserve(Decimal("0.10"))
        await budget.settle(held, Decimal("0.10"))
        assert await budget.spent_today() == Decimal("0.50")
    finally:
        await budget_client.aclose()
        await cache_client.aclose()
        server.stop()


def test_the_compose_example_publishes_on_loopback_and_uses_the_shipped_redis_conf() -> None:
    compose = yaml.safe_load((EXAMPLES / "compose.yaml").read_text("utf-8"))
    services = compose["services"]
    assert set(services) == {"redis", "postgres", "monitor"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert any(v.startswith("./redis.conf:") for v in services["redis"]["volumes"])
    assert "--dashboard" in services["monitor"]["command"]
    assert "OXBOT_MONITOR_TOKEN" in services["monitor"]["environment"]


@pytest.mark.parametrize("line", ["maxmemory-policy volatile-lru", "appendonly yes", "bind 127.0.0.1 -::1"])
def test_the_redis_conf_says_what_the_docs_say(line: str) -> None:
    assert line in (EXAMPLES / "redis.conf").read_text("utf-8").splitlines()
