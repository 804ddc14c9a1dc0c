"""Process B of the coherence fault tests (run as a script, never collected by pytest).

Usage: coherence_peer.py REDIS_URL DATABASE_URL NAMESPACE. Reads commands from stdin, one per line,
while its event loop keeps running (so background repair and the invalidation listener run between
commands): `delete KEY`, `set KEY VALUE`, `stats`, `quit`. Answers one line per command on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys

from pytest_oxbot.cache import FaultPolicy, HierarchicalCache
from pytest_oxbot.connections import make_engine, make_redis_client


async def main(redis_url: str, database_url: str, namespace: str) -> None:
    cache = HierarchicalCache(
        make_redis_client(redis_url, socket_timeout=0.5),
        make_engine(database_url),
        namespace=namespace,
        faults=FaultPolicy(retry_interval=0.1),
        owns_backends=True,
    )
    await cache.get("warm-up")  # subscribed and the L3 table exists before the test starts
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        if line[0] == "delete":
            await cache.delete(line[1])
            print("deleted", flush=True)
        elif line[0] == "set":
            await cache.set(line[1], line[2])
            print("set", flush=True)
        elif line[0] == "stats":
            print(json.dumps(cache.stats().as_dict()), flush=True)
    await cache.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
