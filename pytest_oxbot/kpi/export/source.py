"""What the export CLI reads: a baseline file or the plugin's JSON report, as results to export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi import baseline as baseline_io
from pytest_oxbot.kpi.catalogue import spec_for
from pytest_oxbot.kpi.gate import KpiResult
from pytest_oxbot.kpi.report import json_report


def load_results(path: Path) -> tuple[list[KpiResult], dict[str, str]]:
    """(results, environment) of a baseline or a JSON report; anything else is a `KpiUsageError`."""
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KpiUsageError(f"cannot read {path}: {exc}") from None
    found = data.get("format") if isinstance(data, dict) else None
    if found == json_report.FORMAT:
        try:
            results = [KpiResult.from_dict(item) for item in data["results"]]
        except (KeyError, TypeError) as exc:
            raise KpiUsageError(f"{path} is a corrupt {json_report.FORMAT} report: {exc}") from None
        return results, {str(k): str(v) for k, v in (data.get("environment") or {}).items()}
    if found in baseline_io.READABLE:
        saved = baseline_io.from_json(text, str(path))
        return _from_baseline(saved), saved.environment
    raise KpiUsageError(
        f"{path} is neither a pytest-oxbot baseline ({', '.join(baseline_io.READABLE)}) nor a JSON report "
        f"({json_report.FORMAT}); format: {found!r}"
    )


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
