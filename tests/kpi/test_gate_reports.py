"""Judging one test's KPIs and rendering the reports."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_oxbot.kpi.baseline import Baseline, BaselineEntry
from pytest_oxbot.kpi.gate import KpiResult, Measurement, combine, judge
from pytest_oxbot.kpi.report import html, json_report, markdown
from pytest_oxbot.kpi.report.table import render_text, summary_line
from pytest_oxbot.kpi.session import GateSession, Outputs


def test_target_failure_reads_like_the_issue() -> None:
    (result,) = judge("t::a", [Measurement("prompt_tokens", 2712)], targets={"prompt_tokens": 2500})
    assert result.verdict == "fail"
    assert result.reason == "prompt_tokens 2712 > target 2500 tokens"


def test_higher_is_better_target() -> None:
    (result,) = judge("t::a", [Measurement("cache_hit_rate", 0.8)], targets={})
    assert result.verdict == "fail"
    assert result.reason == "cache_hit_rate 0.8 < target 0.85"


def test_regression_and_recorded() -> None:
    base = {"prompt_tokens": BaselineEntry(2000, "tokens")}
    (result,) = judge("t::a", [Measurement("prompt_tokens", 2200)], targets={}, baseline=base)
    assert result.verdict == "regressed"
    assert "+10.0% vs baseline 2000" in result.reason
    (info,) = judge("t::a", [Measurement("prompt_tokens", 9999)], targets={}, judged=False)
    assert info.verdict == "recorded"
    assert not info.failing


def test_repeated_reports_pool_their_samples() -> None:
    (m,) = combine([Measurement("decision_time", 1.0), Measurement("decision_time", 3.0, (2.0, 4.0))])
    assert m.value == 2.0
    assert m.samples == (1.0, 2.0, 4.0)


def test_result_survives_dict_transport() -> None:
    (result,) = judge("t::a", [Measurement("decision_time", 0.2, (0.1, 0.3))], targets={})
    assert KpiResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def _results() -> list[KpiResult]:
    return judge(
        "tests/test_x.py::test_cycle",
        [Measurement("prompt_tokens", 2712), Measurement("decision_time", 0.2, (0.1, 0.2, 0.3))],
        targets={"decision_time": 0.5},
        baseline={"decision_time": BaselineEntry(0.21, "s", (0.2, 0.21, 0.22))},
    )


def test_terminal_and_markdown() -> None:
    results = _results()
    text = "\n".join(render_text(results))
    assert "prompt_tokens" in text
    assert "FAIL" in text
    assert summary_line(results) == "2 KPIs: 1 fail, 1 ok"
    md = markdown.render(results, header="targets from defaults")
    assert md.startswith("### ❌ pytest-oxbot KPI gate")
    assert "- ❌ `tests/test_x.py::test_cycle`: prompt_tokens 2712 > target 2500 tokens" in md
    assert "| ✔️ | `tests/test_x.py::test_cycle` | decision_time | 0.2 s | ≤ 0.5 | 0.21 | ▼ -4.8% |" in md


def test_json_report() -> None:
    data = json.loads(json_report.render(_results(), {"targets_source": "defaults"}))
    assert data["summary"] == {"fail": 1, "ok": 1}
    assert {r["name"] for r in data["results"]} == {"prompt_tokens", "decision_time"}


def test_html_is_self_contained_with_plots() -> None:
    history = [
        (
            "20260101T000000Z",
            Baseline({}, {"tests/test_x.py::test_cycle": {"prompt_tokens": BaselineEntry(2400, "tokens")}}),
        )
    ]
    baseline = Baseline(
        {}, {"tests/test_x.py::test_cycle": {"decision_time": BaselineEntry(0.21, "s", (0.2, 0.21, 0.22))}}
    )
    page = html.render(_results(), header="h", history=history, baseline=baseline)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 4  # two KPIs vs targets, one distribution, one history
    assert "src=" not in page
    assert "<link" not in page
    assert "prompt_tokens 2712 &gt; target 2500 tokens" in page


def test_session_writes_requested_files(tmp_path: Path) -> None:
    out = Outputs(
        save_baseline=tmp_path / "b.json",
        json=tmp_path / "r.json",
        markdown=tmp_path / "r.md",
        step_summary=tmp_path / "summary.md",
    )
    (tmp_path / "summary.md").write_text("earlier step\n")
    session = GateSession(out)
    session.add(_results())
    written = session.finish()
    assert len(written) == 4
    assert (tmp_path / "summary.md").read_text().startswith("earlier step\n### ❌")
    saved = json.loads((tmp_path / "b.json").read_text())
    assert saved["tests"]["tests/test_x.py::test_cycle"]["prompt_tokens"]["value"] == 2712
