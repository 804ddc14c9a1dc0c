"""Markdown for a pull-request comment and `$GITHUB_STEP_SUMMARY`."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_oxbot.kpi.gate import KpiResult
from pytest_oxbot.kpi.report.table import HEADERS, rows, summary_line


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(results: Sequence[KpiResult], *, header: str = "") -> str:
    """A heading, the verdict summary, the failing reasons, and the full table."""
    failing = [r for r in results if r.failing]
    icon = "❌" if failing else "✅"
    lines = [f"### {icon} pytest-oxbot KPI gate", "", summary_line(results)]
    if header:
        lines += ["", f"<sub>{_cell(header)}</sub>"]
    if failing:
        lines += ["", "**Failing:**", ""]
        lines += [f"- `{r.test_id}`: {_cell(r.reason)}" for r in failing]
    noisy = [r for r in results if r.verdict == "unstable"]
    if noisy:
        lines += ["", "**Too noisy to judge (not failed):**", ""]
        lines += [f"- `{r.test_id}`: {_cell(r.reason)}" for r in noisy]
    not_run = sorted({r.test_id: r.reason for r in results if r.verdict == "not run"}.items())
    if not_run:
        lines += ["", "**Baseline tests that did not run:**", ""]
        lines += [f"- `{test_id}`: {_cell(why)}" for test_id, why in not_run]
    lines += ["", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows(results)]
    return "\n".join(lines) + "\n"
