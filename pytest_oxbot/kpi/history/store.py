"""Choosing a history store from what the user wrote, and the read API the reports use.

A value with `://` is an SQLAlchemy URL (`sqlite:///runs.db`, `postgresql+asyncpg://user@host/db`): the
SQL store. Anything else is a path: the JSONL store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_oxbot._urls import redact_url
from pytest_oxbot.kpi.history.jsonl import JsonlStore
from pytest_oxbot.kpi.history.record import HistoryError, RunRecord, build_record
from pytest_oxbot.kpi.history.sql import SqlStore
from pytest_oxbot.kpi.history.vcs import detect

if TYPE_CHECKING:
    from pytest_oxbot.kpi.gate import KpiResult

DEFAULT_PATH = ".oxbot/history.jsonl"
DEFAULT_MAX_RUNS = 200  # = kpi.config.DEFAULT_HISTORY_RUNS
SQL_BACKENDS = ("sqlite", "postgresql", "postgres")

Store = JsonlStore | SqlStore


def is_url(target: str | Path) -> bool:
    return isinstance(target, str) and "://" in target


def open_store(target: str | Path, max_runs: int = DEFAULT_MAX_RUNS, *, schema: str | None = None) -> Store:
    """The store `target` names: an SQL URL (SQLite/PostgreSQL) or a JSONL file path."""
    if not is_url(target):
        return JsonlStore(Path(target), max_runs)
    backend = str(target).split("://", 1)[0].split("+", 1)[0].lower()
    if backend not in SQL_BACKENDS:
        raise HistoryError(
            f"history {redact_url(str(target))}: not a history store; give a file path, sqlite:///path or "
            "postgresql+asyncpg://user@host/db"
        )
    return SqlStore(str(target), max_runs, schema=schema)


def load_history(path_or_url: str | Path, *, strict: bool = False) -> list[RunRecord]:
    """Every record of a history store, oldest first (unreadable lines skipped unless `strict`)."""
    records, _ = open_store(path_or_url).read(strict=strict)
    return records


def series(records: Iterable[RunRecord], test_id: str, kpi: str) -> list[tuple[str, float]]:
    """(short SHA, value) of one test's KPI in every record that measured it, oldest first."""
    points = []
    for record in records:
        point = record.tests.get(test_id, {}).get(kpi)
        if point is not None:
            points.append((record.short_sha, point.value))
    return points


def append_run(
    target: str | Path,
    results: Sequence[KpiResult],
    *,
    env: Mapping[str, str],
    cwd: Path,
    environment: Mapping[str, str],
    max_runs: int = DEFAULT_MAX_RUNS,
) -> str:
    """Record one session in `target`; returns the line for the terminal ("history: ... (run abc1234)")."""
    record = build_record(results, detect(env, cwd), environment)
    store = open_store(target, max_runs)
    dropped = store.append(record)
    kept = f", dropped {dropped} older run(s) (history_max_runs={max_runs})" if dropped else ""
    where = f"{record.short_sha} on {record.branch}" if record.branch else record.short_sha
    return f"history: run {where} appended to {store.where}{kept}"
