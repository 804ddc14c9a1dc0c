"""SQL work as exact counts: statements executed, and the PostgreSQL buffers the hot queries touch.

* `count_sql(engine)`: statements executed on an SQLAlchemy engine (sync or async), via its
  `before_cursor_execute` event; an `executemany` is one statement (one round trip). An N+1 loop changes
  it exactly.
* `explain_buffers(conn, statement)`: the shared buffers (hit + read) PostgreSQL touches to execute a
  statement, from `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`; planning buffers are left out, so a cold
  catalogue cache does not move the figure. An index scan touches a few pages; the sequential scan that
  replaces it after a dropped index touches the whole table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Engine, Executable, event, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from pytest_oxbot.errors import KpiUsageError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@dataclass
class SqlCount:
    """What a `count_sql` block executed."""

    statements: int = 0


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
