"""Markdown for a pull-request comment and `$GITHUB_STEP_SUMMARY`: what needs attention first.

Order: the verdict line, every failing KPI with its reason, a compact table of those KPIs with their
change (▲/▼ and whether that is better or worse for the KPI), the baseline tests that did not run, then
the rest in a collapsed `<details>` with counts per verdict (and the reasons of the unstable ones).
A comment must stay under GitHub's 65,536 characters even for thousands of KPIs: the collapsed rows go
first, then the failing table's, then the reasons, each cut saying how many rows it left out (the JSON
report holds them all).
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_oxbot.kpi.gate import VERDICT_ORDER, KpiResult, fmt
from pytest_oxbot.kpi.report.table import counts, summary_line

GITHUB_COMMENT_LIMIT = 65_536
MAX_CHARS = 60_000  # room for a caller's own lines around the report
ICONS = {
    "fail": "❌",
    "regressed": "🔺",
    "missing": "❓",
    "not run": "⏭️",
    "unstable": "〰️",
    "improved": "✅",
    "ok": "✔️",
    "recorded": "·",
}
HEADERS = ("", "test", "KPI", "value", "target", "baseline", "change")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def change(result: KpiResult) -> str:
    """`▲ +13.0% worse`: the direction of the value and, once judged a move, what it means for this KPI
    (a change within the noise or the tolerance gets no word)."""
    if result.change is None:
        return "-"
    if result.change == 0:
        return "= 0.0%"
    up = result.change > 0
    worse = up if result.better == "lower" else not up
    word = {"regressed": " worse", "improved": " better", "fail": " worse" if worse else " better"}
    return f"{'▲' if up else '▼'} {result.change:+.1%}{word.get(result.verdict, '')}"


def _row(r: KpiResult) -> str:
    unit = "" if r.unit in ("ratio", "") else f" {r.unit}"
    target = "-" if r.target is None else f"{'≤' if r.better == 'lower' else '≥'} {fmt(r.target)}"
    cells = (
        ICONS.get(r.verdict, ""),
        f"`{r.test_id}`",
        r.name,
        "-" if r.value is None else f"{fmt(r.value)}{unit}",
        target,
        fmt(r.baseline),
        change(r),
    )
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _table_head() -> list[str]:
    return ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]


def _fit(lines: list[str], budget: int, what: str) -> tuple[list[str], int]:
    """The leading `lines` that fit in `budget` characters, a note of how many were left out, and what
    budget is left."""
    size = sum(len(line) + 1 for line in lines)
    if size <= budget:
        return lines, budget - size
    note = (
        f"*… {{}} more {what} left out to stay under GitHub's comment size limit (the JSON report has all).*"
    )
    room, kept = budget - len(note) - 10, 0
    while kept < len(lines) and len(lines[kept]) + 1 <= room:
        room -= len(lines[kept]) + 1
        kept += 1
    return [*lines[:kept], "", note.format(len(lines) - kept)], 0


def render(results: Sequence[KpiResult], *, header: str = "", max_chars: int = MAX_CHARS) -> str:
    """The comment: verdict, failing KPIs with reasons and changes, the rest collapsed; under `max_chars`."""
    order = {v: i for i, v in enumerate(VERDICT_ORDER)}
    ranked = sorted(results, key=lambda r: (order.get(r.verdict, len(order)), r.test_id, r.name))
    failing = [r for r in ranked if r.failing]
    rest = [r for r in ranked if not r.failing]
    icon = "❌" if failing else "✅"
    top = [f"### {icon} pytest-oxbot KPI gate", "", summary_line(results)]
    if header:
        top += ["", f"<sub>{_cell(header)}</sub>"]

    reasons = [f"- {ICONS[r.verdict]} `{r.test_id}`: {_cell(r.reason or r.verdict)}" for r in failing]
    table = [_row(r) for r in failing]
    tally = counts(rest)
    label = ", ".join(f"{tally[v]} {v}" for v in VERDICT_ORDER if tally[v])
    not_run = sorted({r.test_id: r.reason for r in rest if r.verdict == "not run"}.items())
    not_run_lines = [f"- {ICONS['not run']} `{test_id}`: {_cell(why)}" for test_id, why in not_run]
    noted = [r for r in rest if r.reason and r.verdict == "unstable"]
    rest_notes = [f"- {ICONS[r.verdict]} `{r.test_id}`: {_cell(r.reason)}" for r in noted]
    rest_rows = [_row(r) for r in rest]

    # Each part gets what is left after the more important ones, so the collapsed part is cut first.
    budget = max_chars - len("\n".join(top)) - 800  # headings, table heads, <details> tags
    reasons, budget = _fit(reasons, budget, "failing KPIs")
    table, budget = _fit(table, budget, "rows of failing KPIs")
    not_run_lines, budget = _fit(not_run_lines, budget, "tests that did not run")
    notes_share = budget // 3  # the reasons of unstable / not run KPIs: never all of the room
    rest_notes, left = _fit(rest_notes, notes_share, "notes")
    budget += left - notes_share
    rest_rows, budget = _fit(rest_rows, budget, "rows")

    lines = list(top)
    if failing:
        lines += ["", f"**Failing ({len(failing)}):**", "", *reasons, "", *_table_head(), *table]
    if not_run_lines:  # a test that silently disappeared is news (and fails under --oxbot-strict)
        lines += ["", f"**Baseline tests that did not run ({len(not_run)}):**", "", *not_run_lines]
    if rest:
        lines += ["", f"<details><summary>{len(rest)} other KPIs: {label}</summary>", ""]
        if rest_notes:
            lines += [*rest_notes, ""]
        lines += [*_table_head(), *rest_rows, "", "</details>"]
    return "\n".join(lines) + "\n"
