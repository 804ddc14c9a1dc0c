"""Two real processes sharing one real Redis: one load between them, and coherent L1s."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from pytest_oxbot.cache import HierarchicalCache
from pytest_oxbot.clock import FakeClock
from pytest_oxbot.connections import make_redis_client

SCRIPT = Path(__file__).with_name("second_process.py")


async def test_two_processes_share_one_load_and_invalidate_each_other(
    oxbot_real_redis: Any, oxbot_redis_url: str, oxbot_key_prefix: str
) -> None:
    clock = FakeClock(start=time.time())  # wall time, as the child sees it, but never advancing
    parent = HierarchicalCache(oxbot_real_redis, None, clock=clock, namespace=oxbot_key_prefix)
    await parent.set("price", "from parent")
    assert await parent.get("price") == "from parent"

    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        oxbot_redis_url,
        oxbot_key_prefix,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ},
    )
    # The fixture's client times out reads after 2 s: a child starting on a loaded machine needs more.
    waiter = make_redis_client(oxbot_redis_url, socket_timeout=40)
    try:
        assert await waiter.blpop([f"{oxbot_key_prefix}:ready"], timeout=30) is not None

        async def load() -> str:
            await oxbot_real_redis.incr(f"{oxbot_key_prefix}:loads")
            await asyncio.sleep(0.3)
            return f"loaded by {os.getpid()}"

        await oxbot_real_redis.rpush(f"{oxbot_key_prefix}:go", "1")
        mine = await parent.get_or_compute("decision", load)
        out, err = await asyncio.wait_for(child.communicate(), 30)
    finally:
        await waiter.aclose()
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert child.returncode == 0, err.decode()
    theirs = out.decode().strip()
    assert int(await oxbot_real_redis.get(f"{oxbot_key_prefix}:loads")) == 1  # one loader call in all
    assert mine == theirs

    assert await parent.sync_invalidations()
    assert await parent.get("price") == "from child"  # the child's write cleared the parent's L1
    assert parent.stats().invalidations_received >= 1
    await parent.aclose()
