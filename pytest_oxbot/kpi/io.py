"""I/O work as exact counts: Redis commands and round trips, SQL statements, PostgreSQL buffers.

An extra round trip, an N+1 loop or a dropped index changes these numbers exactly, whatever the load of
the machine, which a latency cannot promise.

* `count_redis(client)`: commands and round trips sent through one redis-py client (asyncio or sync,
  fakeredis included) while the block runs, counted at the client: a single command is one command and
  one round trip; a pipeline or transaction is each queued command and one round trip. Commands sent on
  connections the client does not route through `execute_command`/`pipeline()` (pub/sub listeners, a
  pipeline's immediate WATCH-mode commands) are not counted. A cluster pipeline counts one round trip per
  `execute()`, although it talks to each node it touches.
* `count_sql(engine)`: statements executed on an SQLAlchemy engine (sync or async), via its
  `before_cursor_execute` event; an `executemany` is one statement (one round trip).
* `explain_buffers(conn, statement)`: the shared buffers (hit + read) PostgreSQL touches to execute a
  statement, from `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`; planning buffers are left out, so a cold
  catalogue cache does not move the figure. An index scan touches a few pages; the sequential scan that
  replaces it after a dropped index touches the whole table.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, Executable, event, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from pytest_oxbot.kpi.errors import KpiUsageError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@dataclass
class RedisCount:
    """What a `count_redis` block sent."""

    commands: int = 0
    round_trips: int = 0


@dataclass
class SqlCount:
    """What a `count_sql` block executed."""

    statements: int = 0


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


@contextmanager
def count_sql(engine: Engine | AsyncEngine) -> Iterator[SqlCount]:
    """Count the statements executed on `engine` (an `Engine` or an `AsyncEngine`) inside the block."""
    target = getattr(engine, "sync_engine", engine)
    counts = SqlCount()

    def before_cursor_execute(*_: Any) -> None:
        counts.statements += 1

    event.listen(target, "before_cursor_execute", before_cursor_execute)
    try:
        yield counts
    finally:
        event.remove(target, "before_cursor_execute", before_cursor_execute)


async def explain_buffers(conn: AsyncConnection, statement: Executable | str, **params: Any) -> int:
    """Shared buffers hit + read to execute `statement` on PostgreSQL (run for real, inside EXPLAIN ANALYZE).

    `statement` is a SQLAlchemy statement (its parameters bound as in a real execution) or SQL text with
    `:name` parameters. Run it inside a transaction you roll back when it writes.
    """
    if conn.dialect.name != "postgresql":
        raise KpiUsageError(f"db_buffers needs PostgreSQL (EXPLAIN ... BUFFERS), not {conn.dialect.name}")
    inner = text(statement) if isinstance(statement, str) else statement
    result = await conn.execute(ExplainAnalyze(inner), params)
    document = result.scalar_one()
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    return int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0))


class ExplainAnalyze(Executable, ClauseElement):
    """`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) <statement>` (SQLAlchemy's custom-construct recipe), so the
    statement's parameters get the same type processing as when the application runs it."""

    inherit_cache = False

    def __init__(self, statement: Executable | ClauseElement) -> None:
        self.statement = statement


@compiles(ExplainAnalyze, "postgresql")
def _compile_explain_analyze(element: ExplainAnalyze, compiler: SQLCompiler, **kw: Any) -> str:
    with compiler._nested_result():  # the plan's rows are not the statement's: no result processors
        return "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + compiler.process(
            cast(ClauseElement, element.statement), **kw
        )
