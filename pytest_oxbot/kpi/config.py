"""Gate configuration: `[tool.pytest_oxbot]` in pyproject.toml, ini lines and command-line targets.

Targets layer in this order, each overriding the one before: catalogue defaults, pyproject
`[tool.pytest_oxbot.targets]`, ini `oxbot_targets`, `--oxbot-target`, then a test's marker. Every layer is
validated the same way, so a bad target names its KPI and where it came from.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.catalogue import CATALOGUE, spec_for
from pytest_oxbot.kpi.compare import ComparePolicy
from pytest_oxbot.kpi.units import parse_quantity

DEFAULT_BASELINE = ".oxbot/baseline.json"
DEFAULT_PERFORMANCE_PATHS = ("benchmarks",)
DEFAULT_HISTORY_RUNS = 200  # runs a history store keeps (--oxbot-history)
_KNOWN_KEYS = {
    "targets",
    "baseline",
    "performance_paths",
    "min_effect",
    "alpha",
    "max_spread",
    "min_samples",
    "instruction_tolerance",
    "other_cpu_instruction_tolerance",
    "min_runs",
    "baseline_runs",
    "max_cpu_pressure",
    "within_run",
    "history_max_runs",
}


def parse_targets(raw: Mapping[str, object], origin: str) -> dict[str, float]:
    """Validate `{kpi: target}`; an error names the KPI and the place it was written."""
    parsed: dict[str, float] = {}
    for name, value in raw.items():
        try:
            spec = spec_for(name)
            parsed[spec.name] = parse_quantity(spec, value)  # an alias lands on its catalogue name
        except KpiUsageError as exc:
            raise KpiUsageError(f"{origin}: {exc}") from None
    return parsed


def parse_assignments(lines: Iterable[str], origin: str) -> dict[str, float]:
    """Validate `name=value` strings (ini lines, `--oxbot-target`)."""
    raw: dict[str, object] = {}
    for line in lines:
        name, sep, value = line.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise KpiUsageError(f"{origin}: expected NAME=VALUE (e.g. prompt_tokens=2500), got {line!r}")
        raw[name.strip()] = value.strip()
    return parse_targets(raw, origin)


def read_pyproject(rootdir: Path) -> dict[str, object]:
    """The `[tool.pytest_oxbot]` table of `rootdir/pyproject.toml` ({} when absent)."""
    path = rootdir / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KpiUsageError(f"{path}: not valid TOML: {exc}") from None
    section = data.get("tool", {}).get("pytest_oxbot", {})
    if not isinstance(section, dict):
        raise KpiUsageError(f"{path}: [tool.pytest_oxbot] must be a table")
    return section


class GateConfig(NamedTuple):
    """The effective, validated configuration of one session."""

    targets: Mapping[str, float] = MappingProxyType({})
    sources: tuple[str, ...] = ("defaults",)
    baseline_path: str = DEFAULT_BASELINE
    performance_paths: tuple[str, ...] = DEFAULT_PERFORMANCE_PATHS
    policy: ComparePolicy = ComparePolicy()
    baseline_runs: int = 5
    max_cpu_pressure: float = 0.10
    history_max_runs: int = DEFAULT_HISTORY_RUNS

    def target(self, name: str, overrides: Mapping[str, float] | None = None) -> float | None:
        """The target of `name` for one test: its marker, else the session layers, else the default."""
        if overrides and name in overrides:
            return overrides[name]
        if name in self.targets:
            return self.targets[name]
        spec = CATALOGUE.get(name)
        return spec.target if spec else None


def build_config(
    pyproject: Mapping[str, object],
    ini_lines: Iterable[str] = (),
    cli_lines: Iterable[str] = (),
) -> GateConfig:
    """Merge and validate all session-level layers."""
    origin = "pyproject.toml [tool.pytest_oxbot]"
    unknown = sorted(set(pyproject) - _KNOWN_KEYS)
    if unknown:
        raise KpiUsageError(
            f"{origin}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KNOWN_KEYS))})"
        )
    targets: dict[str, float] = {}
    sources = ["defaults"]
    raw_targets = pyproject.get("targets", {})
    if not isinstance(raw_targets, Mapping):
        raise KpiUsageError(f"{origin}: 'targets' must be a table of KPI = target")
    if raw_targets:
        targets.update(parse_targets(raw_targets, f"{origin}.targets"))
        sources.append("pyproject.toml")
    ini = [line for line in ini_lines if line.strip()]
    if ini:
        targets.update(parse_assignments(ini, "ini oxbot_targets"))
        sources.append("ini oxbot_targets")
    cli = list(cli_lines)
    if cli:
        targets.update(parse_assignments(cli, "--oxbot-target"))
        sources.append("command line")
    baseline = pyproject.get("baseline", DEFAULT_BASELINE)
    if not isinstance(baseline, str) or not baseline:
        raise KpiUsageError(f"{origin}: 'baseline' must be a path string")
    paths = pyproject.get("performance_paths", list(DEFAULT_PERFORMANCE_PATHS))
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise KpiUsageError(f"{origin}: 'performance_paths' must be a list of path strings")
    runs = _integer(pyproject, "baseline_runs", 5, 1, origin)
    pressure = _number(pyproject, "max_cpu_pressure", 0.10, origin, upper=1.0)
    history_runs = _integer(pyproject, "history_max_runs", DEFAULT_HISTORY_RUNS, 1, origin)
    return GateConfig(
        targets, tuple(sources), baseline, tuple(paths), _policy(pyproject, origin), runs, pressure
    )._replace(history_max_runs=history_runs)


def _number(section: Mapping[str, object], key: str, default: float, origin: str, upper: float = 10) -> float:
    raw = section.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < float(raw) <= upper:
        raise KpiUsageError(f"{origin}: {key} must be a number in (0, {upper:g}], not {raw!r}")
    return float(raw)


def _integer(section: Mapping[str, object], key: str, default: int, lowest: int, origin: str) -> int:
    raw = section.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < lowest:
        raise KpiUsageError(f"{origin}: {key} must be an integer >= {lowest}, not {raw!r}")
    return raw


def _policy(section: Mapping[str, object], origin: str) -> ComparePolicy:
    defaults = ComparePolicy()
    return ComparePolicy(
        min_effect=_number(section, "min_effect", defaults.min_effect, origin),
        alpha=_number(section, "alpha", defaults.alpha, origin, upper=0.5),
        max_spread=_number(section, "max_spread", defaults.max_spread, origin),
        min_samples=_integer(section, "min_samples", defaults.min_samples, 2, origin),
        instruction_tolerance=_number(
            section, "instruction_tolerance", defaults.instruction_tolerance, origin, upper=1.0
        ),
        min_runs=_integer(section, "min_runs", defaults.min_runs, 2, origin),
        within_run=_flag(section, "within_run", defaults.within_run, origin),
        other_cpu_tolerance=_number(
            section, "other_cpu_instruction_tolerance", defaults.other_cpu_tolerance, origin, upper=1.0
        ),
    )


def _flag(section: Mapping[str, object], key: str, default: bool, origin: str) -> bool:
    raw = section.get(key, default)
    if not isinstance(raw, bool):
        raise KpiUsageError(f"{origin}: {key} must be true or false, not {raw!r}")
    return raw
