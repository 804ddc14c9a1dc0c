"""Alert rules and monitor settings: validated models, a default file (YAML or TOML) and its loader.

Why pydantic: the rules come from a file an operator edits; every typo must fail at start-up with the
field's name, never at 3 a.m. when the alert should have fired. Why `clear_at` and `clear_for_s`: an
alert that clears the moment its value crosses back flaps on every wobble; a band (fire below 0.70,
clear at or above 0.75) and a dwell time make one incident one firing.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pytest_oxbot.monitor.errors import MonitorConfigError
from pytest_oxbot.monitor.metrics import METRICS

__all__ = [
    "ACTIONS",
    "DEFAULT_CONFIG_PATH",
    "AlertRule",
    "MonitorConfig",
    "default_config",
    "default_config_text",
    "load_config",
    "write_default_config",
]

ActionName = Literal["increase_ttl", "switch_to_faster_model", "emergency_stop", "cleanup_cache"]
ACTIONS: tuple[str, ...] = ("increase_ttl", "switch_to_faster_model", "emergency_stop", "cleanup_cache")
# Actions that hold while in force (undone on clear or reset) versus one-shot actions applied per firing.
STATE_ACTIONS = frozenset({"switch_to_faster_model", "emergency_stop"})
_REVERT_ON_CLEAR_DEFAULT = {"switch_to_faster_model": True, "emergency_stop": False}
DEFAULT_CONFIG_PATH = Path("oxbot-alerts.yaml")
_MAX_HISTORY_HOURS = 24 * 31


class AlertRule(BaseModel):
    """Fire when `metric` is past `threshold` for `for_s`; clear past `clear_at` for `clear_for_s`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    metric: str
    when: Literal["above", "below"]
    threshold: float
    clear_at: float | None = None
    window_s: float = Field(default=300.0, gt=0, le=86_400)
    for_s: float = Field(default=0.0, ge=0, le=86_400)
    clear_for_s: float = Field(default=0.0, ge=0, le=86_400)
    min_samples: int = Field(default=1, ge=1)
    action: ActionName | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    revert_on_clear: bool | None = None
    repeat_s: float | None = Field(default=None, gt=0)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; known: {', '.join(METRICS)}")
        return value

    @field_validator("threshold", "clear_at")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AlertRule:
        if self.clear_at is not None:
            wrong = self.clear_at > self.threshold if self.when == "above" else self.clear_at < self.threshold
            if wrong:
                side = "<=" if self.when == "above" else ">="
                raise ValueError(
                    f"clear_at {self.clear_at} must be {side} threshold {self.threshold} for a "
                    f"'{self.when}' alert (it is the hysteresis band's other edge)"
                )
        _check_params(self.action, self.params)
        if self.revert_on_clear is not None and self.action not in STATE_ACTIONS:
            raise ValueError(f"revert_on_clear applies to {sorted(STATE_ACTIONS)} only, not {self.action}")
        return self

    @property
    def clear_level(self) -> float:
        return self.threshold if self.clear_at is None else self.clear_at

    @property
    def reverts_on_clear(self) -> bool:
        if self.revert_on_clear is not None:
            return self.revert_on_clear
        return _REVERT_ON_CLEAR_DEFAULT.get(self.action or "", False)

    def breached(self, value: float) -> bool:
        return value > self.threshold if self.when == "above" else value < self.threshold

    def recovered(self, value: float) -> bool:
        level = self.clear_level
        return value <= level if self.when == "above" else value >= level

    def describe(self) -> str:
        op = ">" if self.when == "above" else "<"
        return f"{self.metric} {op} {self.threshold:g} {METRICS[self.metric].unit}"


def _check_params(action: str | None, params: dict[str, Any]) -> None:
    allowed: dict[str | None, dict[str, type | tuple[type, ...]]] = {
        None: {},
        "increase_ttl": {
            "factor": (int, float),
            "l1_max_s": (int, float),
            "l2_max_s": (int, float),
            "l3_max_s": (int, float),
        },
        "switch_to_faster_model": {"model": str},
        "emergency_stop": {"reason": str},
        "cleanup_cache": {},
    }
    kinds = allowed[action]
    unknown = sorted(set(params) - set(kinds))
    if unknown:
        raise ValueError(f"action {action} takes params {sorted(kinds) or 'none'}, got {unknown}")
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, kinds[key]):
            raise ValueError(f"params.{key} has the wrong type ({type(value).__name__})")
        if isinstance(value, int | float) and not (math.isfinite(value) and value > 0):
            raise ValueError(f"params.{key} must be a finite number > 0")
    if action == "increase_ttl" and params.get("factor", 2.0) <= 1:
        raise ValueError("params.factor must be > 1 (it multiplies the TTLs)")
    if action == "switch_to_faster_model" and not params.get("model"):
        raise ValueError("switch_to_faster_model needs params.model (the faster model to route to)")


class MonitorConfig(BaseModel):
    """How often the monitor samples, how long it keeps history, and its alert rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample_interval_s: float = Field(default=5.0, gt=0, le=3600)
    history_hours: float = Field(default=24.0, gt=0, le=_MAX_HISTORY_HOURS)
    history_resolution_s: float = Field(default=60.0, gt=0, le=3600)
    process_ttl_s: float = Field(default=30.0, gt=0, le=86_400)
    alerts: tuple[AlertRule, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> MonitorConfig:
        names = [a.name for a in self.alerts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"alert names must be unique: {dupes}")
        return self

    def rule(self, name: str) -> AlertRule:
        for rule in self.alerts:
            if rule.name == name:
                return rule
        raise KeyError(name)


# The guide's four alerts. Windows, bands and dwell times are ours (the guide gives only thresholds).
_DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "cache_hit_rate_low": {
        "metric": "cache_hit_rate",
        "when": "below",
        "threshold": 0.7,
        "clear_at": 0.75,
        "window_s": 300,
        "for_s": 60,
        "clear_for_s": 120,
        "min_samples": 20,
        "action": "increase_ttl",
        "params": {"factor": 2.0, "l1_max_s": 300, "l2_max_s": 3600},
        "repeat_s": 600,
    },
    "llm_response_time_high": {
        "metric": "llm_response_time",
        "when": "above",
        "threshold": 1.0,
        "clear_at": 0.8,
        "window_s": 300,
        "for_s": 0,
        "clear_for_s": 300,
        "min_samples": 3,
        "action": "switch_to_faster_model",
        "params": {"model": "gpt-4.1-nano"},
    },
    "cost_daily_limit": {
        "metric": "cost_today_usd",
        "when": "above",
        "threshold": 10.0,
        "window_s": 60,
        "action": "emergency_stop",
    },
    "memory_usage_high": {
        "metric": "memory_mb",
        "when": "above",
        "threshold": 1024,
        "clear_at": 900,
        "window_s": 60,
        "for_s": 30,
        "action": "cleanup_cache",
        "repeat_s": 300,
    },
}

_COMMENTS = {
    "cache_hit_rate_low": "raise the cache TTLs (x factor, capped) while the hit rate stays low",
    "llm_response_time_high": "route the LLM client to a faster model; back when latency recovers",
    "cost_daily_limit": "refuse every LLM call until an operator resets (POST /performance/metrics/reset)",
    "memory_usage_high": "clear the in-process L1 cache",
}


def default_config() -> MonitorConfig:
    return MonitorConfig(alerts=tuple(AlertRule(name=n, **r) for n, r in _DEFAULT_RULES.items()))


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def default_config_text(fmt: Literal["yaml", "toml"] = "yaml") -> str:
    """The default configuration as a commented file (written without needing a YAML/TOML writer)."""
    base = MonitorConfig()
    head = (
        "# pytest-oxbot live monitor: alert rules\n"
        "# (written by `python -m pytest_oxbot.monitor --setup-alerts`).\n"
        "# Each alert fires when `metric` is past `threshold` for `for_s` seconds (rates over `window_s`,\n"
        "# after `min_samples` events) and clears past `clear_at` for `clear_for_s` seconds. Metrics and\n"
        "# actions: docs/monitor.md.\n"
    )
    settings = ("sample_interval_s", "history_hours", "history_resolution_s", "process_ttl_s")
    if fmt == "yaml":
        lines = [head, "monitor:"]
        lines += [f"  {k}: {getattr(base, k)!r}" for k in settings]
        lines.append("alerts:")
        for name, rule in _DEFAULT_RULES.items():
            lines.append(f"  # {_COMMENTS[name]}")
            lines.append(f"  {name}:")
            for key, value in rule.items():
                if isinstance(value, dict):
                    inner = ", ".join(f"{k}: {_yaml_scalar(v)}" for k, v in value.items())
                    lines.append(f"    {key}: {{{inner}}}")
                else:
                    lines.append(f"    {key}: {_yaml_scalar(value)}")
        return "\n".join(lines) + "\n"
    lines = [head, "[monitor]"]
    lines += [f"{k} = {getattr(base, k)!r}" for k in settings]
    for name, rule in _DEFAULT_RULES.items():
        lines += ["", f"# {_COMMENTS[name]}", f"[alerts.{name}]"]
        for key, value in rule.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {_yaml_scalar(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {_yaml_scalar(value)}")
    return "\n".join(lines) + "\n"


def _format_of(path: Path) -> Literal["yaml", "toml", "json"]:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".toml":
        return "toml"
    if suffix == ".json":
        return "json"
    raise MonitorConfigError(f"{path}: unknown configuration format; use .yaml, .yml, .toml or .json")


def write_default_config(path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the default alert configuration (format from the suffix); never clobbers a file unasked."""
    target = Path(path)
    fmt = _format_of(target)
    if fmt == "json":
        raise MonitorConfigError(f"{target}: --setup-alerts writes .yaml or .toml (comments need them)")
    if target.exists() and not overwrite:
        raise MonitorConfigError(f"{target} exists; remove it or choose another path")
    target.write_text(default_config_text(fmt), encoding="utf-8")
    return target


def load_config(path: str | Path) -> MonitorConfig:
    """Read and validate a configuration file; every problem is one `MonitorConfigError` line."""
    source = Path(path)
    fmt = _format_of(source)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise MonitorConfigError(f"{source}: cannot read ({exc.strerror or exc})") from None
    try:
        if fmt == "toml":
            raw: Any = tomllib.loads(text)
        elif fmt == "json":
            raw = json.loads(text)
        else:
            from pytest_oxbot.errors import require

            require("yaml", feature="YAML alert configuration", extra="monitor")
            import yaml

            raw = yaml.safe_load(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise MonitorConfigError(f"{source}: not valid {fmt.upper()}: {exc}") from None
    except Exception as exc:  # yaml.YAMLError, without importing yaml at module level
        raise MonitorConfigError(f"{source}: not valid {fmt.upper()}: {exc}") from None
    return config_from_mapping(raw, origin=str(source))


def config_from_mapping(raw: Any, *, origin: str = "configuration") -> MonitorConfig:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise MonitorConfigError(f"{origin}: the top level must be a mapping with 'monitor' and 'alerts'")
    unknown = sorted(set(raw) - {"monitor", "alerts"})
    if unknown:
        raise MonitorConfigError(
            f"{origin}: unknown top-level key(s) {unknown}; expected 'monitor', 'alerts'"
        )
    settings = raw.get("monitor") or {}
    alerts = raw.get("alerts") or {}
    if not isinstance(settings, dict) or not isinstance(alerts, dict):
        raise MonitorConfigError(f"{origin}: 'monitor' and 'alerts' must be mappings")
    rules: list[Any] = []
    for name, body in alerts.items():
        if not isinstance(body, dict):
            raise MonitorConfigError(f"{origin}: alerts.{name} must be a mapping of its fields")
        rules.append({"name": name, **body})
    try:
        return MonitorConfig(**settings, alerts=tuple(rules))
    except ValidationError as exc:
        raise MonitorConfigError(f"{origin}: {_explain(exc, rules)}") from None
    except TypeError as exc:
        raise MonitorConfigError(f"{origin}: {exc}") from None


def _explain(exc: ValidationError, rules: list[Any]) -> str:
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "alerts" and isinstance(loc[1], int) and loc[1] < len(rules):
            loc[1] = rules[loc[1]].get("name", loc[1])
        where = ".".join(str(p) for p in loc) or "configuration"
        msg = str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {msg}")
    return "; ".join(problems)
