"""One of the processes of the two-process budget test: N concurrent decisions against a shared Redis budget.

Usage: python budget_worker.py REDIS_URL PREFIX DAILY_LIMIT CALLS ANSWER_JSON
Prints one JSON line: {"sent": fake HTTP calls, "ok": answered, "refused": BudgetExceeded count}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from decimal import Decimal

from redis.asyncio import Redis

from pytest_oxbot.fakes.llm import FakeLLMProvider
from pytest_oxbot.llm import BudgetExceeded, CostAwareLLMClient, RedisBudget
from pytest_oxbot.pricing import PriceTable


async def main(url: str, prefix: str, limit: str, calls: int, answer: str) -> None:
    redis = Redis.from_url(url)
    # Barrier: both processes start their calls together, so they really race.
    await redis.incr(f"{prefix}:ready")
    deadline = time.monotonic() + 30
    while int(await redis.get(f"{prefix}:ready") or 0) < 2:
        if time.monotonic() > deadline:
            raise SystemExit("the other worker never arrived")
        await asyncio.sleep(0.01)
    budget = RedisBudget(redis, Decimal(limit), prefix=prefix)
    ok = refused = 0
    with FakeLLMProvider(answers=answer) as fake:
        async with CostAwareLLMClient(
            **fake.client_kwargs(), budget=budget, price_table=PriceTable.shipped()
        ) as client:
            results = await asyncio.gather(
                *(client.decide("BTC decision", ["BTC"], model="gpt-4o-mini") for _ in range(calls)),
                return_exceptions=True,
            )
    for r in results:
        if isinstance(r, BudgetExceeded):
            refused += 1
        elif isinstance(r, BaseException):
            raise r
        else:
            ok += 1
    await redis.aclose()
    print(json.dumps({"sent": len(fake.calls), "ok": ok, "refused": refused}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]))
