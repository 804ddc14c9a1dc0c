"""Budget: reserve the worst case, settle the real cost, atomically, across coroutines and processes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from pytest_oxbot.clock import FakeClock
from pytest_oxbot.fakes.llm import FakeLLMProvider
from pytest_oxbot.llm import BudgetExceeded, CostAwareLLMClient, InMemoryBudget, RedisBudget
from pytest_oxbot.pricing import PriceTable

ANSWER = json.dumps({"BTC": {"signal": "hold", "confidence": 0.5, "justification": "range-bound"}})
WORKER = Path(__file__).with_name("budget_worker.py")


async def test_reserve_refuses_past_the_daily_limit_and_settle_returns_the_unused_part() -> None:
    budget = InMemoryBudget(Decimal("1.00"))
    r1 = await budget.reserve(Decimal("0.60"))
    with pytest.raises(BudgetExceeded, match=r"daily limit \$1.00") as info:
        await budget.reserve(Decimal("0.50"))
    assert info.value.committed == Decimal("0.60")
    await budget.settle(r1, Decimal("0.10"))  # the call cost less than its worst case
    assert await budget.spent_today() == Decimal("0.10")
    await budget.reserve(Decimal("0.50"))  # now it fits
    assert await budget.committed_today() == Decimal("0.60")


async def test_per_call_limit() -> None:
    budget = InMemoryBudget(None, per_call_limit=Decimal("0.001"))
    await budget.reserve(Decimal("0.001"))
    with pytest.raises(BudgetExceeded, match="per-call"):
        await budget.reserve(Decimal("0.0011"))


async def test_budget_resets_at_the_utc_day_boundary() -> None:
    clock = FakeClock(1_767_311_999.0)  # 2026-01-01T23:59:59Z
    budget = InMemoryBudget(Decimal("0.01"), clock=clock)
    r = await budget.reserve(Decimal("0.01"))
    with pytest.raises(BudgetExceeded):
        await budget.reserve(Decimal("0.001"))
    clock.advance(1.0)  # 2026-01-02T00:00:00Z
    await budget.reserve(Decimal("0.01"))
    await budget.settle(r, Decimal("0.005"))  # settles on the day it was reserved
    assert await budget.spent_today() == Decimal(0)


async def test_no_send_at_the_limit_emergency_stop() -> None:
    budget = InMemoryBudget(Decimal(0))
    with FakeLLMProvider(answers=ANSWER) as fake:
        async with CostAwareLLMClient(
            **fake.client_kwargs(), budget=budget, price_table=PriceTable.shipped()
        ) as client:
            with pytest.raises(BudgetExceeded, match="emergency stop"):
                await client.decide("BTC?", ["BTC"], model="gpt-4o-mini")
    assert fake.calls == []


async def _one_call_cost() -> Decimal:
    with FakeLLMProvider(answers=ANSWER) as fake:
        async with CostAwareLLMClient(
            **fake.client_kwargs(),
            price_table=PriceTable.shipped(),
        ) as client:
            return (await client.decide("BTC decision", ["BTC"], model="gpt-4o-mini")).cost


async def test_fifty_concurrent_calls_against_a_budget_that_admits_ten_in_one_process() -> None:
    cost = await _one_call_cost()
    limit = cost * 10 + cost / 2
    budget = InMemoryBudget(limit)
    with FakeLLMProvider(answers=ANSWER) as fake:
        async with CostAwareLLMClient(
            **fake.client_kwargs(),
            budget=budget,
            price_table=PriceTable.shipped(),
        ) as client:
            results = await asyncio.gather(
                *(client.decide("BTC decision", ["BTC"], model="gpt-4o-mini") for _ in range(50)),
                return_exceptions=True,
            )
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(fake.calls) <= 10
    assert len(refused) == 50 - len(fake.calls)
    assert fake.calls
    assert await budget.spent_today() == cost * len(fake.calls) <= limit


@pytest.fixture
def fake_redis() -> Any:
    pytest.importorskip("lupa", reason="fakeredis needs lupa for Lua scripts (pip install lupa)")
    import fakeredis

    return fakeredis.FakeAsyncRedis()


async def test_redis_budget_lua_script_on_fakeredis(fake_redis: Any) -> None:
    cost = await _one_call_cost()
    limit = cost * 10 + cost / 2
    budget = RedisBudget(fake_redis, limit, prefix=f"test:{uuid.uuid4().hex}")
    with FakeLLMProvider(answers=ANSWER) as fake:
        async with CostAwareLLMClient(
            **fake.client_kwargs(),
            budget=budget,
            price_table=PriceTable.shipped(),
        ) as client:
            await asyncio.gather(
                *(client.decide("BTC decision", ["BTC"], model="gpt-4o-mini") for _ in range(30)),
                return_exceptions=True,
            )
    assert 1 <= len(fake.calls) <= 10
    assert await budget.spent_today() == cost * len(fake.calls) <= limit
    assert await budget.calls_today() == len(fake.calls)
    assert await budget.committed_today() == await budget.spent_today()  # nothing left reserved


def _real_redis_url() -> str:
    url = os.environ.get("OXBOT_REDIS_URL")
    required = os.environ.get("OXBOT_REQUIRE_REAL_BACKENDS", "").strip().lower() in {"1", "true", "yes"}
    if not url:
        if required:
            pytest.fail("OXBOT_REQUIRE_REAL_BACKENDS=1 but OXBOT_REDIS_URL is not set")
        pytest.skip("real Redis not configured: set OXBOT_REDIS_URL to run the two-process budget test")
    return url


@pytest_asyncio.fixture
async def real_redis() -> AsyncIterator[tuple[Any, str, str]]:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    url = _real_redis_url()
    client = Redis.from_url(url)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        if os.environ.get("OXBOT_REQUIRE_REAL_BACKENDS", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"real Redis unreachable and OXBOT_REQUIRE_REAL_BACKENDS=1: {exc}")
        pytest.skip(f"real Redis unreachable: {exc}")
    prefix = f"oxbot-test:llm-budget:{uuid.uuid4().hex}"
    yield client, url, prefix
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_fifty_concurrent_calls_from_two_processes_never_overspend(
    real_redis: tuple[Any, str, str],
) -> None:
    client, url, prefix = real_redis
    cost = await _one_call_cost()
    limit = cost * 10 + cost / 2  # admits 10 calls, never 11
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            url,
            prefix,
            str(limit),
            "25",
            ANSWER,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [await asyncio.wait_for(p.communicate(), timeout=120) for p in procs]
    results = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    sent = sum(r["sent"] for r in results)
    assert sum(r["ok"] + r["refused"] for r in results) == 50
    assert 1 <= sent <= 10, results
    budget = RedisBudget(client, limit, prefix=prefix)
    spent = await budget.spent_today()
    assert spent == cost * sent
    assert spent <= limit
    assert await budget.committed_today() == spent  # every reservation was settled
