"""The environment a baseline was measured in; timings from another machine are not comparable."""

from __future__ import annotations

import hashlib
import os
import platform
from collections.abc import Mapping
from pathlib import Path

from pytest_oxbot import __version__

# Differences in these keys make timings incomparable: a wall-clock run recorded under other values is not
# used to judge this one (see `environment_key`). Two builds of one Python minor differ by 1.4x on the same
# machine (measured: pyenv's 3.11.7 vs Debian's PGO-built 3.11.2), hence the build.
SIGNIFICANT = ("python", "python_build", "implementation", "system", "machine", "cpu_count", "cpu_model")
CPU = ("machine", "cpu_model")  # what instruction counts depend on besides the code and the Python build
CPUINFO = Path("/proc/cpuinfo")


def environment_fingerprint() -> dict[str, str]:
    """A small, stable description of this machine and interpreter (no host names, no paths)."""
    build = (platform.python_version(), *platform.python_build(), platform.python_compiler())
    return {
        "python": ".".join(platform.python_version_tuple()[:2]),
        "implementation": platform.python_implementation(),
        "system": platform.system(),
        "machine": platform.machine(),
        "cpu_count": str(os.cpu_count() or 0),
        "pytest_oxbot": __version__,
        "python_build": " ".join(build),
        "cpu_model": cpu_model(),
    }


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's marketing name (Linux: /proc/cpuinfo), else `platform.processor()`, else "unknown"."""
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment_key(fingerprint: Mapping[str, str] | None = None) -> str:
    """A short tag of the significant keys ("py3.11.7-x86_64-2cpu-3f2a9c1e"): kept with every wall-clock run
    so that a run is judged only against runs of the same interpreter build on the same kind of machine."""
    env = fingerprint if fingerprint is not None else environment_fingerprint()
    digest = hashlib.sha256("|".join(f"{k}={env.get(k, '')}" for k in SIGNIFICANT).encode()).hexdigest()[:8]
    version = env.get("python_build", env.get("python", "?")).split(" ", 1)[0]
    return f"py{version}-{env.get('machine', '?')}-{env.get('cpu_count', '?')}cpu-{digest}"


def other_cpu(saved: Mapping[str, str], current: Mapping[str, str]) -> bool:
    """The baseline was recorded on another CPU (an environment without a CPU model tells nothing)."""
    return any(saved.get(key) and saved.get(key) != current.get(key) for key in CPU)


def differences(saved: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """Human-readable differences in the significant keys ("cpu_count: 8 -> 2")."""
    return [
        f"{key}: {saved.get(key, '?')} -> {current.get(key, '?')}"
        for key in SIGNIFICANT
        if saved.get(key) != current.get(key)
    ]
