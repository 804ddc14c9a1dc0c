"""Machine-readable report of a session (every KPI, judged or only recorded)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_oxbot.kpi.gate import KpiResult
from pytest_oxbot.kpi.report.table import counts

FORMAT = "pytest-oxbot-report/1"


def render(results: Sequence[KpiResult], meta: Mapping[str, Any]) -> str:
    document = {
        "format": FORMAT,
        **meta,
        "summary": dict(sorted(counts(results).items())),
        "results": [r.to_dict() for r in sorted(results, key=lambda r: (r.test_id, r.name))],
    }
    return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"
