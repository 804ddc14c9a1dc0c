"""Is the machine busy right now? Linux's CPU pressure (PSI): the share of the last 10 s in which some
runnable task waited for a CPU. A wall-clock KPI measured while neighbours competed for the CPU says
more about them than about the code, so its regression is reported as unstable instead of failed."""

from __future__ import annotations

from pathlib import Path

PRESSURE = Path("/proc/pressure/cpu")


def cpu_pressure(path: Path = PRESSURE) -> float | None:
    """`some avg10` as a fraction (0.25 = 25 % of the last 10 s), or None where the kernel has no PSI."""
    try:
        first = path.read_text(encoding="ascii").splitlines()[0]
    except (OSError, IndexError):
        return None
    fields = dict(part.split("=", 1) for part in first.split()[1:] if "=" in part)
    try:
        return float(fields["avg10"]) / 100
    except (KeyError, ValueError):
        return None


def busy(limit: float, path: Path = PRESSURE) -> str:
    """A note such as "cpu pressure 63% > 10% (avg10)" when the machine is busier than `limit`, else ""."""
    pressure = cpu_pressure(path)
    if pressure is None or pressure <= limit:
        return ""
    return f"cpu pressure {pressure:.0%} > {limit:.0%} over the last 10 s (/proc/pressure/cpu)"
