"""Ask the database how it would run a statement, and summarise which indexes the plan uses.

`Explain` is SQLAlchemy's documented custom-construct recipe, so the statement's parameters go through
the same type processing as a real execution (UUIDs, UTC datetimes) and the plan is that of the query the
repository actually sends.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

_SQLITE_INDEX = re.compile(r"USING (?:COVERING )?INDEX (\w+)")
_SQLITE_FULL_SCAN = re.compile(r"^SCAN (\w+)$")
_PG_INDEX_NODES = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


class Explain(Executable, ClauseElement):
    """`EXPLAIN` around a statement (JSON on PostgreSQL, QUERY PLAN on SQLite)."""

    inherit_cache = False

    def __init__(self, statement: Executable) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _explain_postgresql(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + _inner(element, compiler, **kw)


@compiles(Explain, "sqlite")
def _explain_sqlite(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN QUERY PLAN " + _inner(element, compiler, **kw)


def _inner(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    # The plan rows are not the statement's rows: compile it without mapping its result columns
    # (else SQLAlchemy would run e.g. UUID result processors over the plan's integers).
    with compiler._nested_result():
        return compiler.process(cast(ClauseElement, element.statement), **kw)


@dataclass(frozen=True)
class QueryPlan:
    """What a plan does, in terms a test can assert on."""

    dialect: str
    detail: str
    indexes: frozenset[str]
    full_scans: frozenset[str]
    sorts: bool

    def uses_index(self, name: str) -> bool:
        return name in self.indexes


async def explain(conn: AsyncConnection, statement: Executable, *, generic: bool = False) -> QueryPlan:
    """The plan the connected database picks for `statement` (with its bound values).

    `generic=True` (PostgreSQL) asks for the plan of a prepared statement that no longer looks at its
    parameter values, which PostgreSQL may switch to after five executions (asyncpg prepares every
    statement): a partial index whose predicate is matched only through a bound value is lost then.
    """
    if generic:
        return await _generic_plan(conn, statement)
    rows = (await conn.execute(Explain(statement))).all()
    if conn.dialect.name == "sqlite":
        return _sqlite_plan([str(row[-1]) for row in rows])
    raw = rows[0][0]
    return _postgresql_plan(json.loads(raw) if isinstance(raw, str) else raw)


def _sqlite_plan(details: list[str]) -> QueryPlan:
    indexes = {m.group(1) for d in details if (m := _SQLITE_INDEX.search(d))}
    scans = {m.group(1) for d in details if (m := _SQLITE_FULL_SCAN.match(d))}
    sorts = any("TEMP B-TREE" in d for d in details)
    return QueryPlan("sqlite", "\n".join(details), frozenset(indexes), frozenset(scans), sorts)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _postgresql_plan(document: list[dict[str, Any]]) -> QueryPlan:
    nodes = list(_nodes(document[0]["Plan"]))
    indexes = {n["Index Name"] for n in nodes if n.get("Node Type") in _PG_INDEX_NODES}
    scans = {n["Relation Name"] for n in nodes if n.get("Node Type") == "Seq Scan"}
    sorts = any(n.get("Node Type") == "Sort" for n in nodes)
    detail = " -> ".join(
        f"{n['Node Type']}({n.get('Index Name') or n.get('Relation Name') or ''})" for n in nodes
    )
    return QueryPlan("postgresql", detail, frozenset(indexes), frozenset(scans), sorts)


async def _generic_plan(conn: AsyncConnection, statement: Executable) -> QueryPlan:
    if conn.dialect.name != "postgresql":
        raise ValueError("generic plans are PostgreSQL's (plan_cache_mode)")
    compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=conn.dialect))
    values = compiled.construct_params()
    args = ", ".join(_sql_literal(values[name]) for name in compiled.positiontup or ())
    name = "oxbot_explain_" + secrets.token_hex(4)
    async with conn.begin_nested() if conn.in_transaction() else conn.begin():
        await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.exec_driver_sql(f"PREPARE {name} AS {compiled}")
        try:
            result = await conn.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) EXECUTE {name}{f'({args})' if args else ''}"
            )
            raw = result.scalar_one()
        finally:
            await conn.exec_driver_sql(f"DEALLOCATE {name}")
    return _postgresql_plan(json.loads(raw) if isinstance(raw, str) else raw)


def _sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
