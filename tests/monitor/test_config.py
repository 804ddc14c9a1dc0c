"""The alert configuration: the default file round-trips in both formats; every mistake names its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_oxbot.monitor.config import (
    AlertRule,
    config_from_mapping,
    default_config,
    default_config_text,
    load_config,
    write_default_config,
)
from pytest_oxbot.monitor.errors import MonitorConfigError


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".toml"])
def test_default_file_round_trips(tmp_path: Path, suffix: str) -> None:
    path = write_default_config(tmp_path / f"alerts{suffix}")
    assert load_config(path) == default_config()
    with pytest.raises(MonitorConfigError, match="exists"):
        write_default_config(path)
    write_default_config(path, overwrite=True)


def test_the_guides_four_alerts_are_the_default() -> None:
    rules = {r.name: r for r in default_config().alerts}
    assert {n: (r.metric, r.threshold, r.action) for n, r in rules.items()} == {
        "cache_hit_rate_low": ("cache_hit_rate", 0.7, "increase_ttl"),
        "llm_response_time_high": ("llm_response_time", 1.0, "switch_to_faster_model"),
        "cost_daily_limit": ("cost_today_usd", 10.0, "emergency_stop"),
        "memory_usage_high": ("memory_mb", 1024, "cleanup_cache"),
    }
    assert "# " in default_config_text("yaml")
    assert "[alerts.cost_daily_limit]" in default_config_text("toml")


@pytest.mark.parametrize(
    ("alerts", "words"),
    [
        (
            {"a": {"metric": "nope", "when": "above", "threshold": 1}},
            "alerts.a.metric: unknown metric 'nope'",
        ),
        ({"a": {"metric": "memory_mb", "when": "over", "threshold": 1}}, "alerts.a.when"),
        ({"a": {"metric": "memory_mb", "when": "above", "threshold": "lots"}}, "alerts.a.threshold"),
        (
            {"a": {"metric": "memory_mb", "when": "above", "threshold": 10, "clear_at": 20}},
            "clear_at 20.0 must be <=",
        ),
        (
            {"a": {"metric": "cache_hit_rate", "when": "below", "threshold": 0.7, "clear_at": 0.5}},
            "must be >=",
        ),
        (
            {"a": {"metric": "memory_mb", "when": "above", "threshold": 1, "action": "reboot"}},
            "alerts.a.action",
        ),
        (
            {
                "a": {
                    "metric": "memory_mb",
                    "when": "above",
                    "threshold": 1,
                    "action": "switch_to_faster_model",
                }
            },
            "needs params.model",
        ),
        (
            {
                "a": {
                    "metric": "memory_mb",
                    "when": "above",
                    "threshold": 1,
                    "action": "increase_ttl",
                    "params": {"factor": 0.5},
                }
            },
            "factor must be > 1",
        ),
        (
            {
                "a": {
                    "metric": "memory_mb",
                    "when": "above",
                    "threshold": 1,
                    "action": "increase_ttl",
                    "params": {"l1_max": 5},
                }
            },
            "takes params",
        ),
        (
            {"a": {"metric": "memory_mb", "when": "above", "threshold": 1, "window_s": -1}},
            "alerts.a.window_s",
        ),
        ({"a": {"metric": "memory_mb", "when": "above", "threshold": 1, "colour": "red"}}, "alerts.a.colour"),
        ({"Bad Name": {"metric": "memory_mb", "when": "above", "threshold": 1}}, "name"),
        ({"a": {"metric": "memory_mb", "when": "above", "threshold": float("nan")}}, "finite"),
        ({"a": ["metric", "memory_mb"]}, "alerts.a must be a mapping"),
    ],
)
def test_bad_rules_name_the_field(alerts: dict[str, object], words: str) -> None:
    with pytest.raises(MonitorConfigError) as info:
        config_from_mapping({"alerts": alerts}, origin="alerts.yaml")
    assert words in str(info.value)
    assert str(info.value).startswith("alerts.yaml: ")


def test_bad_files_are_one_clear_error(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "a.yaml"
    bad_yaml.write_text("alerts: [unclosed\n")
    with pytest.raises(MonitorConfigError, match="not valid YAML"):
        load_config(bad_yaml)
    bad_toml = tmp_path / "a.toml"
    bad_toml.write_text("[alerts\n")
    with pytest.raises(MonitorConfigError, match="not valid TOML"):
        load_config(bad_toml)
    with pytest.raises(MonitorConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(MonitorConfigError, match="unknown configuration format"):
        load_config(tmp_path / "alerts.ini")
    top = tmp_path / "t.yaml"
    top.write_text("monitor: {history_hours: 100000}\n")
    with pytest.raises(MonitorConfigError, match=r"monitor|history_hours"):
        load_config(top)
    top.write_text("- 1\n- 2\n")
    with pytest.raises(MonitorConfigError, match="top level must be a mapping"):
        load_config(top)


def test_yaml_cannot_build_python_objects(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("alerts: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(MonitorConfigError, match="not valid YAML"):
        load_config(evil)


def test_rule_semantics() -> None:
    low = AlertRule(name="x", metric="cache_hit_rate", when="below", threshold=0.7, clear_at=0.75)
    assert low.breached(0.69)
    assert not low.breached(0.7)
    assert not low.recovered(0.72)
    assert low.recovered(0.75)
    assert AlertRule(name="y", metric="memory_mb", when="above", threshold=5).clear_level == 5
