"""Exporters: the session's KPIs in the formats other tools chart (Bencher, github-action-benchmark,
Prometheus/Grafana, pytest-benchmark's readers), so nobody writes a converter.

Each format is one small module with `render(results, path, context) -> {path: text}` (a format may write
more than one file). `--oxbot-export=FORMAT:PATH` and `python -m pytest_oxbot.kpi export` both go through
`EXPORTERS`. Only measured, judged KPIs are exported: test ids and KPI names as they are, no local paths.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pytest_oxbot.errors import KpiUsageError, require
from pytest_oxbot.kpi.export import bmf, github_action_benchmark, openmetrics, pytest_benchmark
from pytest_oxbot.kpi.export.common import ExportContext, context
from pytest_oxbot.kpi.gate import KpiResult

Render = Callable[[Sequence[KpiResult], Path, ExportContext], dict[Path, str]]


class Exporter(NamedTuple):
    """One format: how to render it, the optional module it needs (and its extra), who reads it."""

    render: Render
    requires: tuple[str, str] | None
    reader: str


EXPORTERS: dict[str, Exporter] = {
    "bmf": Exporter(bmf.render, None, "Bencher (bencher run --adapter json)"),
    "github-action-benchmark": Exporter(
        github_action_benchmark.render,
        None,
        "github-action-benchmark (tool: customSmallerIsBetter / customBiggerIsBetter)",
    ),
    "openmetrics": Exporter(
        openmetrics.render, ("prometheus_client", "monitor"), "Prometheus, and Grafana through it"
    ),
    "pytest-benchmark": Exporter(
        pytest_benchmark.render, None, "pytest-benchmark compare, and tools that read its JSON"
    ),
}

__all__ = ["EXPORTERS", "ExportContext", "Exporter", "context", "exportable", "parse_spec", "write"]


def parse_spec(text: str) -> tuple[str, Path]:
    """`FORMAT:PATH` -> (format, path); a bad format or a missing path names the valid formats."""
    fmt, sep, path = text.partition(":")
    valid = ", ".join(EXPORTERS)
    if fmt not in EXPORTERS:
        raise KpiUsageError(
            f"unknown export format {fmt!r} in {text!r}: use FORMAT:PATH with FORMAT one of {valid}"
        )
    if not sep or not path:
        raise KpiUsageError(f"{text!r} names no file: use FORMAT:PATH, e.g. {fmt}:kpis.out ({valid})")
    check_available(fmt)
    return fmt, Path(path)


def check_available(fmt: str) -> None:
    """Stop early with the install command when the format needs an extra that is not installed."""
    needs = EXPORTERS[fmt].requires
    if needs is not None:
        require(needs[0], feature=f"exporting {fmt}", extra=needs[1])


def exportable(results: Iterable[KpiResult]) -> list[KpiResult]:
    """The KPIs worth charting: judged and measured (recorded-only, missing and not-run ones are not)."""
    return sorted(
        (r for r in results if r.judged and r.value is not None and math.isfinite(r.value)),
        key=lambda r: (r.test_id, r.name),
    )


def write(
    specs: Sequence[tuple[str, Path]], results: Sequence[KpiResult], context: ExportContext
) -> list[str]:
    """Render every requested format and write its files; one line per format, for the terminal."""
    chosen = exportable(results)
    lines = []
    for fmt, path in specs:
        files = EXPORTERS[fmt].render(chosen, path, context)
        for target, text in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        names = ", ".join(str(p) for p in files) or "nothing (no measured KPI)"
        lines.append(f"export {fmt}: {names}" + _skipped(files, path, fmt))
    return lines


def _skipped(files: Mapping[Path, Any], path: Path, fmt: str) -> str:
    if fmt != "github-action-benchmark":
        return ""
    missing = [p for p in github_action_benchmark.paths(path) if p not in files]
    return "".join(f" ({p} not written: no KPI in that direction)" for p in missing)
