"""The other bot process of test_two_processes.py (run as a script, never collected by pytest)."""

from __future__ import annotations

import asyncio
import os
import sys

from pytest_oxbot.cache import HierarchicalCache


async def main(redis_url: str, namespace: str) -> None:
    cache = await HierarchicalCache.connect(redis_url, namespace=namespace)
    client = cache.redis
    assert client is not None
    await cache.get("warm-up")  # subscribed before the race starts
    await client.rpush(f"{namespace}:ready", "1")
    await client.blpop([f"{namespace}:go"], timeout=10)

    async def load() -> str:
        await client.incr(f"{namespace}:loads")
        await asyncio.sleep(0.3)  # a slow LLM call, long enough for the other process to queue up
        return f"loaded by {os.getpid()}"

    value = await cache.get_or_compute("decision", load)
    await cache.set("price", "from child")  # the parent holds "from parent" in its L1
    print(value, flush=True)
    await cache.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
