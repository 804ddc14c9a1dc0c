"""Layered target configuration and its validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.config import build_config, parse_assignments, read_pyproject


def test_defaults_without_configuration() -> None:
    config = build_config({})
    assert config.sources == ("defaults",)
    assert config.target("prompt_tokens") == 2500
    assert config.target("decision_time") is None
    assert config.baseline_path == ".oxbot/baseline.json"
    assert config.performance_paths == ("benchmarks",)


def test_layers_override_in_order() -> None:
    config = build_config(
        {"targets": {"prompt_tokens": 2000, "cache_hit_rate": "90%"}},
        ini_lines=["prompt_tokens=1800", ""],
        cli_lines=["prompt_tokens=1500"],
    )
    assert config.sources == ("defaults", "pyproject.toml", "ini oxbot_targets", "command line")
    assert config.target("prompt_tokens") == 1500
    assert config.target("cache_hit_rate") == pytest.approx(0.9)
    assert config.target("prompt_tokens", {"prompt_tokens": 3000.0}) == 3000


def test_pyproject_section_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest_oxbot]\nbaseline = "perf/base.json"\nmin_effect = 0.2\n'
        '[tool.pytest_oxbot.targets]\nllm_response_time = "400ms"\n'
    )
    config = build_config(read_pyproject(tmp_path))
    assert config.baseline_path == "perf/base.json"
    assert config.policy.min_effect == 0.2
    assert config.target("llm_response_time") == pytest.approx(0.4)
    assert read_pyproject(tmp_path / "missing") == {}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"targets": {"prompt_tokenz": 1}}, "pyproject.toml .*unknown KPI 'prompt_tokenz'"),
        ({"targets": {"llm_response_time": "1MB"}}, "llm_response_time: unit 'MB'"),
        ({"targets": 3}, "'targets' must be a table"),
        ({"tagets": {}}, "unknown key"),
        ({"alpha": "x"}, "alpha must be a number in"),
        ({"min_samples": 1}, "min_samples"),
        ({"performance_paths": "benchmarks"}, "performance_paths"),
    ],
)
def test_bad_pyproject(section: dict[str, object], message: str) -> None:
    with pytest.raises(KpiUsageError, match=message):
        build_config(section)


@pytest.mark.parametrize("line", ["prompt_tokens", "=3", "prompt_tokens="])
def test_assignment_syntax(line: str) -> None:
    with pytest.raises(KpiUsageError, match="--oxbot-target: expected NAME=VALUE"):
        parse_assignments([line], "--oxbot-target")


def test_invalid_toml_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest_oxbot\n")
    with pytest.raises(KpiUsageError, match="not valid TOML"):
        read_pyproject(tmp_path)
