"""History of the gate's runs per commit: records, the JSONL and SQL stores, trends and change points.

Read API (for reports): `load_history(path_or_url) -> list[RunRecord]` and
`series(records, test_id, kpi) -> list[(short_sha, value)]`. Imports only the standard library;
SQLAlchemy is imported by the SQL store when it is used.
"""

from __future__ import annotations

from pytest_oxbot.kpi.history.record import FORMAT, HistoryError, KpiPoint, RunRecord, build_record
from pytest_oxbot.kpi.history.store import (
    DEFAULT_MAX_RUNS,
    DEFAULT_PATH,
    append_run,
    load_history,
    open_store,
    series,
)
from pytest_oxbot.kpi.history.trend import ChangePoint, Drift, Trend, TrendPolicy, analyse, sparkline
from pytest_oxbot.kpi.history.vcs import VcsInfo, detect

__all__ = [
    "DEFAULT_MAX_RUNS",
    "DEFAULT_PATH",
    "FORMAT",
    "ChangePoint",
    "Drift",
    "HistoryError",
    "KpiPoint",
    "RunRecord",
    "Trend",
    "TrendPolicy",
    "VcsInfo",
    "analyse",
    "append_run",
    "build_record",
    "detect",
    "load_history",
    "open_store",
    "series",
    "sparkline",
]
