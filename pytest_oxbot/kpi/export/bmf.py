"""Bencher Metric Format: `{benchmark: {measure: {"value", "lower_value"?, "upper_value"?}}}`.

Benchmark = the test id, measure = the KPI name, as they are (Bencher accepts a measure by name and creates
it on first use; its unit and direction are set on the measure and threshold in Bencher, BMF has no room for
them). A KPI with samples gets value +/- one standard deviation as its bounds, as Bencher's own
pytest-benchmark adapter does with mean and stddev. Schema: https://bencher.dev/bmf.json.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.export.common import ExportContext, spread
from pytest_oxbot.kpi.gate import KpiResult

# Bencher's limits (lib/bencher_valid): a benchmark name of 1-1024 bytes, a measure name of 1-64.
MAX_BENCHMARK = 1024
MAX_MEASURE = 64


def render(results: Sequence[KpiResult], path: Path, context: ExportContext) -> dict[Path, str]:
    document: dict[str, dict[str, dict[str, float]]] = {}
    for r in results:
        assert r.value is not None  # exportable() keeps measured KPIs only
        _check(r)
        metric = {"value": r.value}
        stdev = spread(r)
        if stdev is not None:
            metric |= {"lower_value": r.value - stdev, "upper_value": r.value + stdev}
        document.setdefault(r.test_id, {})[r.name] = metric
    return {path: json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"}


def _check(r: KpiResult) -> None:
    if len(r.test_id.encode()) > MAX_BENCHMARK:
        raise KpiUsageError(f"bmf: test id longer than Bencher's {MAX_BENCHMARK} bytes: {r.test_id[:80]}...")
    if len(r.name.encode()) > MAX_MEASURE:
        raise KpiUsageError(
            f"bmf: KPI name {r.name!r} is longer than Bencher's {MAX_MEASURE}-byte measure name"
        )
