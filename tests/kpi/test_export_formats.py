"""Each exporter's output, read back by its consumer's own schema or parser (see schemas/PROVENANCE.md)."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi import export
from pytest_oxbot.kpi.catalogue import spec_for
from pytest_oxbot.kpi.gate import KpiResult, Measurement, judge

SCHEMAS = Path(__file__).parent / "schemas"
CONTEXT = export.context(
    {"python": "3.11", "implementation": "CPython", "system": "Linux", "machine": "x86_64", "cpu_count": "2"},
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    commit_info={"id": "abc123", "branch": "main", "dirty": False, "project": "bot"},
)


def _results() -> list[KpiResult]:
    """A realistic session: counts, a noisy timing with samples, a higher-is-better ratio, odd test ids."""
    results = judge(
        'tests/test_bot.py::test_cycle[BTC/USDT-"quoted" \\ back]',
        [
            Measurement("prompt_tokens", 2400),
            Measurement("cost_per_decision", 0.00021),
            Measurement("db_query_time", 0.0011, (0.001, 0.0012, 0.0011, 0.0013, 0.0009)),
        ],
        targets={},
    )
    results += judge("tests/test_cache.py::test_hit_rate", [Measurement("cache_hit_rate", 0.91)], targets={})
    results += judge("tests/test_cache.py::test_redis", [Measurement("redis_round_trips", 3)], targets={})
    # Not exported: recorded-only and unmeasured KPIs are not chart points.
    results += judge(
        "tests/test_misc.py::test_other", [Measurement("prompt_tokens", 10)], targets={}, judged=False
    )
    return results


MEASURED = 5  # judged and measured KPIs in _results()


def _render(fmt: str, tmp_path: Path, results: list[KpiResult] | None = None) -> dict[Path, str]:
    chosen = export.exportable(_results() if results is None else results)
    return export.EXPORTERS[fmt].render(chosen, tmp_path / f"out.{fmt}", CONTEXT)


def _only(files: dict[Path, str]) -> str:
    assert len(files) == 1
    return next(iter(files.values()))


# --- Bencher Metric Format: Bencher's published JSON schema ---------------------------------------------


def test_bmf_validates_against_benchers_published_schema(tmp_path: Path) -> None:
    from jsonschema import Draft7Validator

    schema = json.loads((SCHEMAS / "bencher-bmf.json").read_text())
    validator = Draft7Validator(schema)
    document = json.loads(_only(_render("bmf", tmp_path)))
    assert list(validator.iter_errors(document)) == []
    assert sum(len(measures) for measures in document.values()) == MEASURED
    timing = document['tests/test_bot.py::test_cycle[BTC/USDT-"quoted" \\ back]']["db_query_time"]
    assert timing["lower_value"] < timing["value"] < timing["upper_value"]  # +/- one stddev
    assert document["tests/test_cache.py::test_redis"]["redis_round_trips"] == {"value": 3}
    # The schema does catch a broken document (so passing it means something).
    assert list(validator.iter_errors({"t": {"kpi": {"lower_value": 1}}}))


def test_bmf_refuses_a_measure_name_bencher_would_reject(tmp_path: Path) -> None:
    long_name = "a" * 60 + "_time"  # a valid free-form KPI, longer than Bencher's 64-byte measure name
    results = judge("t.py::test_x", [Measurement(long_name, 1.0)], targets={})
    with pytest.raises(KpiUsageError, match="64-byte measure name"):
        _render("bmf", tmp_path, results)


# --- github-action-benchmark: the action's own zod schema (node) and its port --------------------------


def _gab_check(text: str) -> list[dict[str, Any]]:
    """github-action-benchmark's checks of a custom file, ported from src/extract.ts at commit
    c38cce98215cf75e178ecd5a0c1a1ab215e93006: `BenchmarkResults.parse(JSON.parse(output))` (an array of
    objects: name, unit as strings, value a finite number, optional range/extra strings) and
    `extractResult`'s "No benchmark result was found" (an empty array fails the action). zod's coerce would
    turn a missing name into "undefined"; the port demands the keys, which is what a useful chart needs."""
    entries = json.loads(text)
    assert isinstance(entries, list)
    assert entries, "No benchmark result was found"
    for entry in entries:
        assert isinstance(entry, dict)
        assert isinstance(entry["name"], str)
        assert entry["name"]
        assert isinstance(entry["unit"], str)
        value = entry["value"]
        assert isinstance(value, int | float)
        assert not isinstance(value, bool)
        assert math.isfinite(value)
        for optional in ("range", "extra"):
            assert isinstance(entry.get(optional, ""), str)
    return entries


def test_github_action_benchmark_splits_by_direction_and_passes_the_actions_checks(tmp_path: Path) -> None:
    files = _render("github-action-benchmark", tmp_path)
    smaller, bigger = (
        tmp_path / "out.github-action-benchmark",
        tmp_path / "out-bigger.github-action-benchmark",
    )
    assert set(files) == {smaller, bigger}
    low, high = _gab_check(files[smaller]), _gab_check(files[bigger])
    assert len(low) + len(high) == MEASURED
    for entries, better in ((low, "lower"), (high, "higher")):
        for entry in entries:
            kpi = entry["name"].rpartition(" - ")[2]
            assert spec_for(kpi).better == better
    assert [e["name"] for e in high] == ["tests/test_cache.py::test_hit_rate - cache_hit_rate"]
    timing = next(e for e in low if e["name"].endswith("db_query_time"))
    assert timing["unit"] == "s"
    assert timing["range"].startswith("stddev: ")
    assert "verdict: ok" in timing["extra"].splitlines()


def test_github_action_benchmark_writes_no_empty_file(tmp_path: Path) -> None:
    results = judge("t.py::test_x", [Measurement("prompt_tokens", 10)], targets={})
    files = _render("github-action-benchmark", tmp_path, results)
    assert list(files) == [tmp_path / "out.github-action-benchmark"]  # no bigger-is-better KPI: no file


def _zod_modules() -> Path | None:
    """A node_modules holding zod (the action's dependency): $OXBOT_NODE_MODULES or npm's global root."""
    candidates = [os.environ.get("OXBOT_NODE_MODULES", "")]
    if shutil.which("npm"):
        root = subprocess.run(["npm", "root", "-g"], capture_output=True, text=True, check=False)
        candidates.append(root.stdout.strip())
    return next((Path(c) for c in candidates if c and (Path(c) / "zod").is_dir()), None)


def test_github_action_benchmark_files_pass_the_actions_own_zod_parse(tmp_path: Path) -> None:
    modules = _zod_modules()
    if shutil.which("node") is None or modules is None:
        pytest.skip("needs node and zod (npm install -g zod@4, or OXBOT_NODE_MODULES=<dir with zod>)")
    script = tmp_path / "check.mjs"
    shutil.copy(SCHEMAS / "gab-benchmark-result.mjs", script)
    (tmp_path / "node_modules").symlink_to(modules)
    files = _render("github-action-benchmark", tmp_path)
    for path, text in files.items():
        path.write_text(text)
        done = subprocess.run(["node", str(script), str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == json.loads(text)  # zod accepted every entry unchanged
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    done = subprocess.run(["node", str(script), str(empty)], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "No benchmark result was found" in done.stderr


# --- OpenMetrics: prometheus_client's OpenMetrics parser -------------------------------------------------


def test_openmetrics_parses_back_with_prometheus_client(tmp_path: Path) -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    text = _only(_render("openmetrics", tmp_path))
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {f.type for f in families.values()} == {"gauge"}
    values = {(s.labels["test"], s.labels["kpi"]): s for s in families["oxbot_kpi_value"].samples}
    assert len(values) == MEASURED
    odd = values[('tests/test_bot.py::test_cycle[BTC/USDT-"quoted" \\ back]', "cost_per_decision")]
    assert odd.value == pytest.approx(0.00021)
    assert odd.labels == {
        "test": 'tests/test_bot.py::test_cycle[BTC/USDT-"quoted" \\ back]',  # escaped and read back as-is
        "kpi": "cost_per_decision",
        "unit": "USD",
        "verdict": "ok",
    }
    targets = {(s.labels["test"], s.labels["kpi"]): s.value for s in families["oxbot_kpi_target"].samples}
    assert targets[("tests/test_cache.py::test_hit_rate", "cache_hit_rate")] == 0.85


# --- pytest-benchmark: its own storage loader and its compare CLI ---------------------------------------


class _StrictLogger:
    """pytest-benchmark's FileStorage logs a file it cannot load as a warning and skips it: fail instead."""

    def warning(self, text: str, **kwargs: Any) -> None:
        raise AssertionError(text)

    def info(self, text: str, **kwargs: Any) -> None:
        pass


def test_pytest_benchmark_file_loads_with_pytest_benchmarks_own_code(tmp_path: Path) -> None:
    from pytest_benchmark.storage.file import FileStorage

    files = _render("pytest-benchmark", tmp_path)
    ((path, text),) = files.items()
    path.write_text(text)
    document = json.loads(text)
    assert set(document) == {"machine_info", "commit_info", "benchmarks", "datetime", "version"}
    loaded = list(FileStorage(tmp_path / "storage", _StrictLogger()).load_benchmarks(str(path)))
    by_name = {b["fullname"]: b for b in loaded}
    assert len(by_name) == 3  # one entry per test with measured, judged KPIs
    cycle = by_name['tests/test_bot.py::test_cycle[BTC/USDT-"quoted" \\ back]']
    assert set(cycle["extra_info"]["oxbot_kpis"]) == {"prompt_tokens", "cost_per_decision", "db_query_time"}
    assert cycle["rounds"] == 5
    assert cycle["mean"] == pytest.approx(0.0011)
    assert cycle["extra_info"]["oxbot_stats"].startswith("db_query_time")
    counts = by_name["tests/test_cache.py::test_redis"]
    assert counts["rounds"] == 0
    assert counts["extra_info"]["oxbot_stats"].startswith("none")
    assert counts["extra_info"]["oxbot_kpis"]["redis_round_trips"]["value"] == 3


def test_pytest_benchmark_compare_cli_reads_the_file(tmp_path: Path) -> None:
    ((path, text),) = _render("pytest-benchmark", tmp_path).items()
    path = path.with_suffix(".json")
    path.write_text(text)
    out = tmp_path / "table.csv"
    cli = Path(sys.executable).with_name("pytest-benchmark")
    done = subprocess.run(
        [str(cli), "compare", str(path), f"--csv={out}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Failed to load" not in done.stdout + done.stderr
    with out.open() as fh:
        names = {row["name"] for row in csv.DictReader(fh)}
    assert {"test_hit_rate", "test_redis"} <= {n.rpartition("::")[2] for n in names}


# --- the registry ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["csv:out.csv", "bmf", "bmf:", ":out.json"])
def test_bad_spec_names_the_valid_formats(spec: str) -> None:
    with pytest.raises(KpiUsageError, match="bmf, github-action-benchmark, openmetrics, pytest-benchmark"):
        export.parse_spec(spec)


def test_a_windows_style_path_keeps_its_colon() -> None:
    assert export.parse_spec("bmf:C:/out/bmf.json") == ("bmf", Path("C:/out/bmf.json"))
