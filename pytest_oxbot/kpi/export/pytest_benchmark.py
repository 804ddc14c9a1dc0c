"""pytest-benchmark's JSON (`--benchmark-json`): machine_info, commit_info, benchmarks[], datetime, version,
with every test's oxbot KPIs in its benchmark's `extra_info["oxbot_kpis"]`.

A test that used pytest-benchmark's `benchmark` fixture keeps pytest-benchmark's own entry (its stats,
options, params). Any other test gets an entry in group `pytest-oxbot` whose stats are computed by
pytest-benchmark's own `Stats` from the test's wall-clock KPI (unit s; `extra_info["oxbot_stats"]` names it)
or, with none, are zero with 0 rounds and say so: pytest-benchmark's stats are seconds, and a token count
or a hit rate must not pose as one. machine_info is the environment fingerprint (no host name).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_oxbot.kpi.export.common import ExportContext
from pytest_oxbot.kpi.gate import KpiResult

GROUP = "pytest-oxbot"
NO_TIMING = "none: this test measured no time; its KPIs are in extra_info['oxbot_kpis'] (stats are zero)"


def render(results: Sequence[KpiResult], path: Path, context: ExportContext) -> dict[Path, str]:
    from pytest_benchmark import __version__
    from pytest_benchmark.utils import get_commit_info

    by_test: dict[str, list[KpiResult]] = {}
    for r in results:
        by_test.setdefault(r.test_id, []).append(r)
    commit_info = context.commit_info
    if commit_info is None:
        commit_info = get_commit_info()  # type: ignore[no-untyped-call]
    document = {
        "machine_info": _machine_info(context.environment),
        "commit_info": dict(commit_info),
        "benchmarks": [_benchmark(t, kpis, context.pytest_benchmark.get(t)) for t, kpis in by_test.items()],
        "datetime": context.created.isoformat(),
        "version": __version__,
    }
    return {path: json.dumps(document, indent=4, sort_keys=True, default=str) + "\n"}


def _machine_info(environment: Mapping[str, str]) -> dict[str, Any]:
    """pytest-benchmark's keys where the fingerprint has them, plus the fingerprint itself."""
    return {
        "machine": environment.get("machine", ""),
        "python_implementation": environment.get("implementation", ""),
        "python_version": environment.get("python", ""),
        "system": environment.get("system", ""),
        "cpu": {"count": int(environment.get("cpu_count", "0") or 0)},
        "oxbot_environment": dict(environment),
    }


def _benchmark(test_id: str, kpis: Sequence[KpiResult], own: Mapping[str, Any] | None) -> dict[str, Any]:
    oxbot = {
        r.name: {
            "value": r.value,
            "unit": r.unit,
            "better": r.better,
            "verdict": r.verdict,
            "target": r.target,
            "baseline": r.baseline,
            "change": r.change,
        }
        for r in kpis
    }
    if own is not None:  # pytest-benchmark measured this test: its entry, with our KPIs added
        entry = dict(own)
        entry["extra_info"] = {**dict(own.get("extra_info") or {}), "oxbot_kpis": oxbot}
        return entry
    name = test_id.rpartition("::")[2]
    stats, source = _stats(kpis)
    return {
        "group": GROUP,
        "name": name,
        "fullname": test_id,
        "params": None,
        "param": name.partition("[")[2].removesuffix("]") or None,
        "extra_info": {"oxbot_kpis": oxbot, "oxbot_stats": source},
        "options": {},
        "stats": stats,
    }


def _stats(kpis: Sequence[KpiResult]) -> tuple[dict[str, Any], str]:
    """pytest-benchmark's stats of the test's first wall-clock KPI, or honest zeros."""
    from pytest_benchmark.stats import Stats

    timing = next((r for r in sorted(kpis, key=lambda r: r.name) if r.unit == "s"), None)
    stats: Any = Stats()  # type: ignore[no-untyped-call]
    if timing is None:
        empty = {field: 0 for field in Stats.fields} | {"outliers": "0;0", "iterations": 1}
        return empty, NO_TIMING
    for sample in timing.samples or (timing.value,):
        stats.update(sample)
    computed = stats.as_dict() | {"iterations": 1}
    return computed, f"{timing.name}: pytest-oxbot KPI, {stats.rounds} sample(s) in seconds"
