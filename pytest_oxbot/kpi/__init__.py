"""The KPI gate's library: catalogue, targets, measurement, baselines, comparison and reports.

It never imports pytest; `pytest_oxbot._plugin.kpi` wires it into pytest. The names below are loaded on
first access (PEP 562), so the pytest plugin, imported by every run, pays only for the submodules it uses.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Eager, and cheap: the function `compare` must shadow the submodule of the same name (importing the
# submodule later would otherwise bind `pytest_oxbot.kpi.compare` to the module).
from pytest_oxbot.kpi.compare import compare

if TYPE_CHECKING:
    from pytest_oxbot.errors import KpiUsageError
    from pytest_oxbot.kpi.baseline import Baseline, BaselineEntry
    from pytest_oxbot.kpi.catalogue import CATALOGUE, KpiSpec, spec_for
    from pytest_oxbot.kpi.compare import ComparePolicy, Comparison
    from pytest_oxbot.kpi.config import GateConfig, build_config
    from pytest_oxbot.kpi.errors import BaselineError
    from pytest_oxbot.kpi.gate import KpiResult, Measurement, judge
    from pytest_oxbot.kpi.measure import KpiRecorder

_HOMES = {
    "Baseline": "baseline",
    "BaselineEntry": "baseline",
    "CATALOGUE": "catalogue",
    "KpiSpec": "catalogue",
    "spec_for": "catalogue",
    "ComparePolicy": "compare",
    "Comparison": "compare",
    "GateConfig": "config",
    "build_config": "config",
    "BaselineError": "errors",
    "KpiUsageError": "errors",
    "KpiResult": "gate",
    "Measurement": "gate",
    "judge": "gate",
    "KpiRecorder": "measure",
}

__all__ = [
    "CATALOGUE",
    "Baseline",
    "BaselineEntry",
    "BaselineError",
    "ComparePolicy",
    "Comparison",
    "GateConfig",
    "KpiRecorder",
    "KpiResult",
    "KpiSpec",
    "KpiUsageError",
    "Measurement",
    "build_config",
    "compare",
    "judge",
    "spec_for",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
