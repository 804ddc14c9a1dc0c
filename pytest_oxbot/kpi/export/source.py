"""What the export CLI reads, as results to export: a baseline, the plugin's JSON report or a history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_oxbot._json import strict_loads
from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi import baseline as baseline_io
from pytest_oxbot.kpi.catalogue import spec_for
from pytest_oxbot.kpi.gate import KpiResult
from pytest_oxbot.kpi.report import json_report
from pytest_oxbot.kpi.sources import load_source


def load_results(path: Path) -> tuple[list[KpiResult], dict[str, str]]:
    """(results, environment) of a baseline, a JSON report (its verdicts kept) or a history file (its last
    record), told by content through the one loader, `kpi.sources`."""
    source = load_source(path)
    if source.kind == "report":
        data: Any = strict_loads(path.read_text(encoding="utf-8"))  # load_source checked it already
        try:
            results = [KpiResult.from_dict(item) for item in data["results"]]
        except (KeyError, TypeError) as exc:
            raise KpiUsageError(f"{path} is a corrupt {json_report.FORMAT} report: {exc}") from None
        return results, {str(k): str(v) for k, v in (data.get("environment") or {}).items()}
    return _from_baseline(source.baseline), source.baseline.environment


def _from_baseline(saved: baseline_io.Baseline) -> list[KpiResult]:
    """A baseline's entries as results: no verdict was given to them, so `recorded`, judged for export."""
    results = []
    for test_id, kpis in sorted(saved.tests.items()):
        for name, entry in sorted(kpis.items()):
            try:
                better = spec_for(name).better
            except KpiUsageError:  # a KPI name this version no longer knows: still exported
                better = "lower"
            results.append(
                KpiResult(
                    test_id,
                    name,
                    entry.unit,
                    entry.value,
                    None,
                    better,
                    "recorded",
                    samples=entry.samples,
                    runs=entry.runs,
                )
            )
    return results
