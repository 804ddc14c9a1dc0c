"""The pull-request comment: failing KPIs first, changes with their meaning, the rest collapsed, capped."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from pytest_oxbot.kpi.baseline import BaselineEntry
from pytest_oxbot.kpi.gate import KpiResult, Measurement, judge
from pytest_oxbot.kpi.report import display_path, markdown

from .test_plugin import ONLY_KPI, run, write_suite


def _mixed() -> list[KpiResult]:
    return [
        *judge("t.py::test_prompt", [Measurement("prompt_tokens", 2712)], targets={}),
        *judge(
            "t.py::test_hits",
            [Measurement("cache_hit_rate", 0.88)],
            targets={},
            baseline={"cache_hit_rate": BaselineEntry(0.95)},
        ),
        *judge(
            "t.py::test_small",
            [Measurement("prompt_tokens", 1800)],
            targets={},
            baseline={"prompt_tokens": BaselineEntry(2000, "tokens")},
        ),
        *judge(
            "t.py::test_same",
            [Measurement("api_calls_per_cycle", 1)],
            targets={},
            baseline={"api_calls_per_cycle": BaselineEntry(1, "calls")},
        ),
    ]


def test_failing_first_with_reasons_then_the_rest_collapsed() -> None:
    md = markdown.render(_mixed())
    assert md.startswith("### ❌ pytest-oxbot KPI gate\n\n4 KPIs: 1 fail, 1 regressed, 1 improved, 1 ok\n")
    failing = md.index("**Failing (2):**")
    details = md.index("<details><summary>2 other KPIs: 1 improved, 1 ok</summary>")
    assert failing < md.index("`t.py::test_prompt`: prompt_tokens 2712 > target 2500 tokens") < details
    assert failing < md.index("`t.py::test_hits`: cache_hit_rate 0.88 regressed -7.4%") < details
    assert details < md.index("`t.py::test_small`") < md.index("</details>")
    assert details < md.index("`t.py::test_same`")


def test_arrows_say_which_way_is_better_for_the_kpi() -> None:
    md = markdown.render(_mixed())
    hits = next(line for line in md.splitlines() if line.startswith("| 🔺 | `t.py::test_hits`"))
    assert hits.endswith("| ▼ -7.4% worse |")  # a hit rate going down is worse
    small = next(line for line in md.splitlines() if "`t.py::test_small`" in line)
    assert small.endswith("| ▼ -10.0% better |")  # fewer tokens is better
    same = next(line for line in md.splitlines() if "`t.py::test_same`" in line)
    assert same.endswith("| = 0.0% |")


def test_all_green_has_no_failing_section() -> None:
    md = markdown.render(_mixed()[2:])
    assert md.startswith("### ✅")
    assert "Failing" not in md


def _many(n: int, failing_every: int) -> list[KpiResult]:
    results = []
    for i in range(n):
        test_id = f"benchmarks/suite_{i // 50}/test_module_{i // 10}.py::test_case_{i}[variant-{i % 7}]"
        if i % failing_every == 0:
            results += judge(test_id, [Measurement("prompt_tokens", 2600 + i)], targets={})
        else:
            old = 0.3 + (i % 5) * 0.01
            new = old * 0.9 if i % 3 == 0 else old  # some improved, the rest ok
            base = {"llm_response_time": BaselineEntry(old, "s")}
            results += judge(test_id, [Measurement("llm_response_time", new)], targets={}, baseline=base)
    return results


def test_two_thousand_results_stay_under_githubs_limit_with_every_failure_listed() -> None:
    results = _many(2000, failing_every=100)
    md = markdown.render(results)
    assert len(md) < markdown.GITHUB_COMMENT_LIMIT
    for r in results:
        if r.failing:
            assert f"`{r.test_id}`: {r.reason}" in md
    shown = md.count("| ✔️ |") + md.count("| ✅ |") + md.count("| 🔺 |")
    left_out = int(md.split("*… ")[1].split(" more rows left out")[0])
    assert shown + left_out == 2000 - 20
    assert "</details>" in md


def test_when_even_the_failures_do_not_fit_the_cut_is_said() -> None:
    results = _many(2000, failing_every=1)
    md = markdown.render(results)
    assert len(md) < markdown.GITHUB_COMMENT_LIMIT
    assert "more failing KPIs left out" in md
    assert f"`{results[0].test_id}`" in md


def test_display_path_is_never_absolute(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    assert display_path(root / ".oxbot" / "baseline.json", root) == ".oxbot/baseline.json"
    assert display_path(Path("/elsewhere/base.json"), root) == "base.json"


def test_reports_from_a_run_hold_no_absolute_path(pytester: pytest.Pytester) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("matplotlib (extra: plots) is not installed")
    # In a subprocess: an in-process run would unload numpy afterwards, which cannot be imported twice.
    write_suite(pytester, sections=4)
    run(pytester, "--oxbot-save-baseline=.oxbot/baseline.json")
    write_suite(pytester, sections=6)
    result = pytester.runpytest_subprocess(
        *ONLY_KPI,
        "--oxbot-compare=.oxbot/baseline.json",
        "--oxbot-markdown=out/pr.md",
        "--oxbot-html=out/report.html",
        "--oxbot-json=out/r.json",
    )
    result.assert_outcomes(passed=3, errors=1)
    root = str(pytester.path)
    for name in ("pr.md", "report.html", "r.json"):
        text = (pytester.path / "out" / name).read_text()
        assert root not in text, name
        assert "/tmp/" not in text, name
    assert "baseline .oxbot/baseline.json" in (pytester.path / "out" / "pr.md").read_text()
    assert json.loads((pytester.path / "out" / "r.json").read_text())["baseline"] == ".oxbot/baseline.json"
