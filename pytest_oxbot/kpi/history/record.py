"""One run of the gate as history keeps it: where (commit, branch, CI run, environment), when, and what.

A record holds per test and KPI only the value, unit and verdict (no samples), so a history of hundreds
of runs stays small enough to commit. It is plain JSON (`to_dict`/`from_dict`), the same in the JSONL
file and in the SQL store's `record` column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from pytest_oxbot._json import is_finite_number
from pytest_oxbot.errors import KpiUsageError

if TYPE_CHECKING:
    from pytest_oxbot.kpi.gate import KpiResult
    from pytest_oxbot.kpi.history.vcs import VcsInfo

FORMAT = "pytest-oxbot-history/1"


class HistoryError(KpiUsageError):
    """A history store that cannot be read or written; the message names the file (and line) or URL."""


class KpiPoint(NamedTuple):
    """One KPI of one test in one run."""

    value: float
    unit: str = ""
    verdict: str = ""


class RunRecord(NamedTuple):
    """One pytest session's KPIs with the commit, branch and environment they were measured on."""

    commit: str | None
    branch: str | None
    timestamp: str  # ISO 8601, UTC, seconds ("2026-11-30T10:19:14Z")
    environment: Mapping[str, str]
    tests: Mapping[str, Mapping[str, KpiPoint]]
    ci_provider: str | None = None
    ci_run_id: str | None = None
    ci_url: str | None = None

    @property
    def short_sha(self) -> str:
        return self.commit[:7] if self.commit else "-------"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "commit": self.commit,
            "branch": self.branch,
            "timestamp": self.timestamp,
            "environment": dict(sorted(self.environment.items())),
            "ci": {"provider": self.ci_provider, "run_id": self.ci_run_id, "url": self.ci_url},
            "tests": {
                test_id: {name: p._asdict() for name, p in sorted(kpis.items())}
                for test_id, kpis in sorted(self.tests.items())
            },
        }

    @classmethod
    def from_dict(cls, data: Any) -> RunRecord:
        """Validate and parse; a `ValueError` says what is wrong (the caller adds where)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"not a {FORMAT} record (format: {found!r})")
        tests = data.get("tests")
        env = data.get("environment", {})
        ci = data.get("ci") or {}
        if not isinstance(tests, dict) or not isinstance(env, dict) or not isinstance(ci, dict):
            raise ValueError("'tests', 'environment' and 'ci' must be objects")
        timestamp = data.get("timestamp")
        if not isinstance(timestamp, str):
            raise ValueError("'timestamp' must be a string")
        parsed: dict[str, dict[str, KpiPoint]] = {}
        for test_id, kpis in tests.items():
            if not isinstance(kpis, dict):
                raise ValueError(f"test {test_id!r}: expected an object of KPIs")
            parsed[test_id] = {name: _point(raw, test_id, name) for name, raw in kpis.items()}
        return cls(
            _opt_str(data.get("commit")),
            _opt_str(data.get("branch")),
            timestamp,
            {str(k): str(v) for k, v in env.items()},
            parsed,
            _opt_str(ci.get("provider")),
            _opt_str(ci.get("run_id")),
            _opt_str(ci.get("url")),
        )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _point(raw: Any, test_id: str, name: str) -> KpiPoint:
    value = raw.get("value") if isinstance(raw, dict) else None
    if not is_finite_number(value):
        raise ValueError(f"{test_id!r} / {name!r}: 'value' must be a finite number")
    return KpiPoint(float(value), str(raw.get("unit", "")), str(raw.get("verdict", "")))


def timestamp_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_record(
    results: Iterable[KpiResult],
    vcs: VcsInfo,
    environment: Mapping[str, str],
    timestamp: str | None = None,
) -> RunRecord:
    """The record of a session: every measured KPI (judged or only recorded) with its verdict."""
    tests: dict[str, dict[str, KpiPoint]] = {}
    for r in results:
        if r.value is None or not math.isfinite(r.value):
            continue
        tests.setdefault(r.test_id, {})[r.name] = KpiPoint(float(f"{r.value:.9g}"), r.unit, r.verdict)
    return RunRecord(
        vcs.commit,
        vcs.branch,
        timestamp or timestamp_now(),
        dict(environment),
        tests,
        vcs.ci_provider,
        vcs.ci_run_id,
        vcs.ci_url,
    )
