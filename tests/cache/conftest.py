"""A throwaway `redis-server` per test, on a free loopback port: for the tests that freeze Redis
(SIGSTOP), fill it past `maxmemory`, or rename its commands. The shared server is never touched.

Skipped only when `redis-server` is not installed (like the cluster tests); a failure under
OXBOT_REQUIRE_REAL_BACKENDS=1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import RedisServer

StartRedis = Callable[..., RedisServer]


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[StartRedis]:
    """`start_redis("--maxmemory", "2mb", ...)`: a fresh server without persistence; stopped at teardown."""
    started: list[RedisServer] = []

    def start(*args: str) -> RedisServer:
        server = RedisServer(*args, folder=tmp_path / f"redis-{len(started)}")
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
