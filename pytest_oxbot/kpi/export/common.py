"""What every exporter shares: the context of the results (where and when measured), their spread."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pytest_oxbot.kpi.gate import KpiResult


class ExportContext(NamedTuple):
    """`environment`: the fingerprint (no host names, no paths); `created`: when the results were taken;
    `pytest_benchmark`: pytest-benchmark's own entries of this session by test id (its `as_dict()`);
    `commit_info`: pytest-benchmark's commit block (None: read from git when a format needs it)."""

    environment: Mapping[str, str]
    created: datetime
    pytest_benchmark: Mapping[str, Mapping[str, Any]]
    commit_info: Mapping[str, Any] | None = None


def context(
    environment: Mapping[str, str] | None = None,
    created: datetime | None = None,
    pytest_benchmark: Mapping[str, Mapping[str, Any]] | None = None,
    commit_info: Mapping[str, Any] | None = None,
) -> ExportContext:
    """An `ExportContext` with defaults: this machine's fingerprint, now, no pytest-benchmark entries."""
    if environment is None:
        from pytest_oxbot.kpi.fingerprint import environment_fingerprint

        environment = environment_fingerprint()
    return ExportContext(environment, created or datetime.now(UTC), pytest_benchmark or {}, commit_info)


def spread(result: KpiResult) -> float | None:
    """The standard deviation of a KPI's samples (None with fewer than two)."""
    return statistics.stdev(result.samples) if len(result.samples) > 1 else None
