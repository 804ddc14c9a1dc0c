"""Strict JSON for the files a user, a CI cache or an attacker hands the gate (baselines, reports, history,
cassettes).

Python's `json` accepts `NaN`, `Infinity` and `1e400` (which compares as neither larger nor smaller, or as
infinitely good, and so lets any regression pass) and raises `RecursionError` on deep nesting, which pytest
shows as an INTERNALERROR. Here each of those is a `ValueError` with a one-line reason, which the caller
turns into its own usage error naming the file.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeGuard


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a number")
    return value


def strict_loads(text: str | bytes) -> Any:
    """`json.loads` that refuses non-finite numbers and answers deep nesting with a `ValueError`."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def is_finite_number(value: object) -> TypeGuard[int | float]:
    """A JSON number the gate can compare: int or float, not bool, finite (a huge int included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
