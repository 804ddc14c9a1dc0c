"""Parse a target written with or without its unit ("600ms", "$0.0003", "85%", 2500) into the KPI's unit.

A unit that does not fit the KPI (e.g. "512MB" for a latency) is an error naming both, because a silently
mis-scaled target is worse than none.
"""

from __future__ import annotations

import math
import re

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.catalogue import KpiSpec

# unit of the KPI -> accepted suffixes and the factor to that unit
_SUFFIXES: dict[str, dict[str, float]] = {
    "s": {"s": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "min": 60.0},
    "USD": {"usd": 1.0, "$": 1.0},
    "tokens": {"tokens": 1.0, "token": 1.0, "tok": 1.0},
    "calls": {"calls": 1.0, "call": 1.0},
    "MB": {"mb": 1.0, "mib": 1.0, "kb": 1 / 1024, "kib": 1 / 1024, "gb": 1024.0, "gib": 1024.0},
    "ratio": {"%": 0.01, "ratio": 1.0},
    "instructions": {"instructions": 1.0, "k": 1e3, "m": 1e6, "g": 1e9},
    "commands": {"commands": 1.0, "command": 1.0},
    "round trips": {"round trips": 1.0, "round trip": 1.0},
    "statements": {"statements": 1.0, "statement": 1.0},
    "buffers": {"buffers": 1.0, "buffer": 1.0},
}

# Compiled on first use (re caches it): most runs never parse a target string.
_NUMBER = r"^\s*(\$)?\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*?)?\s*$"


def parse_quantity(spec: KpiSpec, raw: object) -> float:
    """The target `raw` (number, or string with an optional unit) expressed in `spec.unit`."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise KpiUsageError(
            f"target for {spec.name} must be a number or a string like '2500' or '0.6s', "
            f"not {type(raw).__name__} {raw!r}"
        )
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        match = re.match(_NUMBER, raw)
        if match is None:
            raise KpiUsageError(f"target for {spec.name}: cannot read {raw!r} as a number with a unit")
        dollar, number, suffix = match.groups()
        unit = "$" if dollar else (suffix or "")
        if dollar and suffix:
            unit = suffix
        value = float(number) * _factor(spec, unit.strip())
    if not math.isfinite(value) or value < 0:
        raise KpiUsageError(f"target for {spec.name} must be a finite, non-negative number, not {raw!r}")
    if spec.unit == "ratio" and value > 1:
        raise KpiUsageError(f"target for {spec.name} is a ratio in [0, 1] (or a percentage), not {raw!r}")
    return value


def _factor(spec: KpiSpec, unit: str) -> float:
    if not unit:
        return 1.0
    table = _SUFFIXES.get(spec.unit, {})
    factor = table.get(unit.lower()) if unit not in table else table[unit]
    if factor is None:
        accepted = ", ".join(sorted(table)) or spec.unit
        raise KpiUsageError(
            f"target for {spec.name}: unit {unit!r} does not fit a KPI measured in {spec.unit} "
            f"(accepted: {accepted})"
        )
    return factor
