"""Redis work as exact counts: commands and round trips sent through one redis-py client.

`count_redis(client)` counts what the client sends while the block runs (asyncio or sync clients,
fakeredis included), at the client: a single command is one command and one round trip; a pipeline or
transaction is each queued command and one round trip. Commands sent on connections the client does not
route through `execute_command`/`pipeline()` (pub/sub listeners, a pipeline's immediate WATCH-mode
commands) are not counted; a cluster pipeline counts one round trip per `execute()`, although it talks
to each node it touches. An extra round trip changes the count exactly, whatever the machine's load.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pytest_oxbot.errors import KpiUsageError


@dataclass
class RedisCount:
    """What a `count_redis` block sent."""

    commands: int = 0
    round_trips: int = 0


@contextmanager
def count_redis(client: Any) -> Iterator[RedisCount]:
    """Count the commands and round trips `client` sends inside the block (see the module docstring)."""
    if not callable(getattr(client, "execute_command", None)) or not callable(
        getattr(client, "pipeline", None)
    ):
        raise KpiUsageError(f"count_redis needs a redis-py client, not {type(client).__name__}")
    counts = RedisCount()
    execute = client.execute_command
    make_pipeline = client.pipeline
    shadowed = {
        name: client.__dict__[name] for name in ("execute_command", "pipeline") if name in client.__dict__
    }

    if inspect.iscoroutinefunction(execute):

        async def counted_command(*args: Any, **options: Any) -> Any:
            counts.commands += 1
            counts.round_trips += 1
            return await execute(*args, **options)

    else:

        def counted_command(*args: Any, **options: Any) -> Any:  # type: ignore[misc]
            counts.commands += 1
            counts.round_trips += 1
            return execute(*args, **options)

    def counted_pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = make_pipeline(*args, **kwargs)
        run = pipe.execute

        def tally() -> None:
            queued = len(getattr(pipe, "command_stack", ()) or ())
            if queued:
                counts.commands += queued
                counts.round_trips += 1

        if inspect.iscoroutinefunction(run):

            async def counted_execute(*a: Any, **kw: Any) -> Any:
                tally()
                return await run(*a, **kw)

        else:

            def counted_execute(*a: Any, **kw: Any) -> Any:  # type: ignore[misc]
                tally()
                return run(*a, **kw)

        pipe.execute = counted_execute
        return pipe

    client.execute_command = counted_command
    client.pipeline = counted_pipeline
    try:
        yield counts
    finally:
        for name in ("execute_command", "pipeline"):
            if name in shadowed:
                setattr(client, name, shadowed[name])
            else:
                delattr(client, name)
