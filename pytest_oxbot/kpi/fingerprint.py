"""The environment a baseline was measured in; timings from another machine are not comparable."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping

from pytest_oxbot import __version__

# Differences in these keys make timing comparisons doubtful (a warning, not an error).
SIGNIFICANT = ("python", "implementation", "system", "machine", "cpu_count")


def environment_fingerprint() -> dict[str, str]:
    """A small, stable description of this machine and interpreter (no host names, no paths)."""
    return {
        "python": ".".join(platform.python_version_tuple()[:2]),
        "implementation": platform.python_implementation(),
        "system": platform.system(),
        "machine": platform.machine(),
        "cpu_count": str(os.cpu_count() or 0),
        "pytest_oxbot": __version__,
    }


def differences(saved: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """Human-readable differences in the significant keys ("cpu_count: 8 -> 2")."""
    return [
        f"{key}: {saved.get(key, '?')} -> {current.get(key, '?')}"
        for key in SIGNIFICANT
        if saved.get(key) != current.get(key)
    ]
