"""Where fixtures drop the KPIs they measured; the gate (kpi plugin module) reads them at teardown.

Private: users (and their fixtures) report through `pytest_oxbot.testing.report_kpi`, which checks the
name. The contract is deliberately tiny so a component fixture never imports the gate. Whether the test
is judged on a value is the gate's decision, not the component's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import pytest


class KpiValue(NamedTuple):
    """One measured KPI value of one test (samples kept for noise-aware comparison)."""

    name: str
    value: float
    samples: tuple[float, ...] = ()
    source: str = "explicit"


KPI_RECORDS = pytest.StashKey[list[KpiValue]]()


def report(
    node: pytest.Item | pytest.Collector | pytest.Function,
    name: str,
    value: float,
    *,
    samples: Sequence[float] = (),
    source: str = "explicit",
) -> None:
    """Attach a measured KPI to the test item that produced it."""
    records = node.stash.setdefault(KPI_RECORDS, [])
    records.append(KpiValue(name, float(value), tuple(float(s) for s in samples), source))


def reported(node: pytest.Item) -> list[KpiValue]:
    """The KPIs attached to a test so far."""
    records: list[KpiValue] = node.stash.get(KPI_RECORDS, [])
    return list(records)
