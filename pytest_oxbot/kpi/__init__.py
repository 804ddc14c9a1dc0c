"""The KPI gate's library: catalogue, targets, measurement, baselines, comparison and reports.

It never imports pytest; `pytest_oxbot._plugin.kpi` wires it into pytest. Every module named here uses
the standard library only, so importing the package is cheap (the pytest plugin does it in every run);
the heavy parts live in the modules that need them and are imported by the user of that feature:
scipy by the within-run significance test (`compare.mann_whitney_p`, the `stats` extra), matplotlib by
`report.html` (the `plots` extra), SQLAlchemy by `sql_counts`, valgrind's child process by `instructions`.
"""

from __future__ import annotations

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.baseline import Baseline, BaselineEntry
from pytest_oxbot.kpi.catalogue import CATALOGUE, KpiSpec, spec_for
from pytest_oxbot.kpi.compare import ComparePolicy, Comparison, compare
from pytest_oxbot.kpi.config import GateConfig, build_config
from pytest_oxbot.kpi.errors import BaselineError, InstrumentError, InstrumentUnavailable
from pytest_oxbot.kpi.gate import KpiResult, Measurement, judge
from pytest_oxbot.kpi.measure import KpiRecorder

__all__ = [
    "CATALOGUE",
    "Baseline",
    "BaselineEntry",
    "BaselineError",
    "ComparePolicy",
    "Comparison",
    "GateConfig",
    "InstrumentError",
    "InstrumentUnavailable",
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
