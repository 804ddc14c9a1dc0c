"""The KPI gate's library: catalogue, targets, measurement, baselines, comparison and reports.

It never imports pytest; `pytest_oxbot._plugin.kpi` wires it into pytest.
"""

from pytest_oxbot.kpi.baseline import Baseline, BaselineEntry
from pytest_oxbot.kpi.catalogue import CATALOGUE, KpiSpec, spec_for
from pytest_oxbot.kpi.compare import ComparePolicy, Comparison, compare
from pytest_oxbot.kpi.config import GateConfig, build_config
from pytest_oxbot.kpi.errors import BaselineError, KpiUsageError
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
