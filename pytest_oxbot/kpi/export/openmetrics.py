"""OpenMetrics text: gauges `oxbot_kpi_value` (labels test, kpi, unit, verdict), `oxbot_kpi_target` and
`oxbot_kpi_baseline` (labels test, kpi, unit), written by prometheus_client (the `monitor` extra).

Units differ per KPI, so the unit is a label rather than the family's OpenMetrics unit. No timestamps: the
scrape or the push gives the time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_oxbot.errors import require
from pytest_oxbot.kpi.export.common import ExportContext
from pytest_oxbot.kpi.gate import KpiResult

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

PREFIX = "oxbot_kpi"


def render(results: Sequence[KpiResult], path: Path, context: ExportContext) -> dict[Path, str]:
    require("prometheus_client", feature="exporting openmetrics", extra="monitor")
    from prometheus_client import CollectorRegistry
    from prometheus_client.openmetrics.exposition import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(results))
    text: bytes = generate_latest(registry)  # type: ignore[no-untyped-call]
    return {path: text.decode("utf-8")}


class _Collector:
    """A one-shot collector over fixed results (prometheus_client's custom-collector protocol)."""

    def __init__(self, results: Sequence[KpiResult]) -> None:
        self._results = results

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        value = GaugeMetricFamily(
            f"{PREFIX}_value", "pytest-oxbot KPI value of this run", labels=["test", "kpi", "unit", "verdict"]
        )
        target = GaugeMetricFamily(f"{PREFIX}_target", "KPI target", labels=["test", "kpi", "unit"])
        baseline = GaugeMetricFamily(
            f"{PREFIX}_baseline", "KPI baseline value", labels=["test", "kpi", "unit"]
        )
        for r in self._results:
            assert r.value is not None  # exportable() keeps measured KPIs only
            value.add_metric([r.test_id, r.name, r.unit, r.verdict], r.value)
            if r.target is not None:
                target.add_metric([r.test_id, r.name, r.unit], r.target)
            if r.baseline is not None:
                baseline.add_metric([r.test_id, r.name, r.unit], r.baseline)
        yield from (value, target, baseline)
