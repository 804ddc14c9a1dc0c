"""github-action-benchmark's custom formats: a JSON list of `{"name", "unit", "value", "range"?, "extra"?}`.

The action takes one direction per file, so lower-is-better KPIs go to PATH (`tool: customSmallerIsBetter`)
and higher-is-better ones to PATH with `-bigger` before the extension (`tool: customBiggerIsBetter`), each
by its catalogue direction. A file whose direction has no KPI is not written (the action fails on an empty
list). Name: "<test id> - <kpi>" (the action's README's "<benchmark> - <metric>" style); range: the samples'
stddev, as the action's own pytest extractor writes it; extra: verdict, target, baseline, change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_oxbot.kpi.export.common import ExportContext, spread
from pytest_oxbot.kpi.gate import KpiResult, fmt

BIGGER_SUFFIX = "-bigger"


def paths(path: Path) -> tuple[Path, Path]:
    """(customSmallerIsBetter file, customBiggerIsBetter file): `kpis.json` -> `kpis-bigger.json` beside."""
    return path, path.with_name(f"{path.stem}{BIGGER_SUFFIX}{path.suffix}")


def render(results: Sequence[KpiResult], path: Path, context: ExportContext) -> dict[Path, str]:
    smaller, bigger = paths(path)
    by_file: dict[Path, list[dict[str, Any]]] = {smaller: [], bigger: []}
    for r in results:
        by_file[bigger if r.better == "higher" else smaller].append(_entry(r))
    return {
        p: json.dumps(entries, indent=2, ensure_ascii=False) + "\n"
        for p, entries in by_file.items()
        if entries
    }


def _entry(r: KpiResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": f"{r.test_id} - {r.name}", "unit": r.unit, "value": r.value}
    stdev = spread(r)
    if stdev is not None:
        entry["range"] = f"stddev: {stdev:.6g}"
    extra = [f"verdict: {r.verdict}"]
    if r.target is not None:
        extra.append(f"target: {'<=' if r.better == 'lower' else '>='} {fmt(r.target)}")
    if r.baseline is not None:
        extra.append(f"baseline: {fmt(r.baseline)}")
    if r.change is not None:
        extra.append(f"change: {r.change:+.1%}")
    entry["extra"] = "\n".join(extra)
    return entry
