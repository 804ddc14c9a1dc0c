"""Report KPIs from your own fixtures and helpers, the way pytest-oxbot's component fixtures do.

    import pytest
    from pytest_oxbot.testing import report_kpi

    @pytest.fixture
    def order_router(request):
        router = OrderRouter()
        yield router
        # at teardown: judged with the test's other KPIs, after every fixture has finished
        report_kpi(request, "api_calls_per_cycle", router.calls_per_cycle())

A fixture reports for every test that uses it; whether the value is judged (can fail the test) is the
gate's decision: tests that use `oxbot_kpi`, carry `@pytest.mark.oxbot_kpi` or live under a performance
path are judged, the others only record it (the session summary names those KPIs and how to judge them).
`kpi_recorder(request)` hands the full recorder (timings, memory, instruction and I/O counts) bound to
the test, for a fixture that measures rather than counts.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, SupportsFloat

import pytest

from pytest_oxbot._plugin import kpi_sink
from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.catalogue import spec_for

if TYPE_CHECKING:
    from pytest_oxbot.kpi.measure import KpiRecorder

__all__ = ["KpiValue", "kpi_recorder", "report_kpi", "reported_kpis"]

KpiValue = kpi_sink.KpiValue
Node = pytest.FixtureRequest | pytest.Item


def _item(where: Node) -> pytest.Item:
    node = where.node if isinstance(where, pytest.FixtureRequest) else where
    if not isinstance(node, pytest.Item):
        raise KpiUsageError(
            f"KPIs belong to a test: report from a function-scoped fixture or the test itself, not from "
            f"{type(node).__name__} {node.nodeid!r}"
        )
    return node


def report_kpi(
    where: Node, name: str, value: SupportsFloat, *, samples: Sequence[float] = (), source: str = "fixture"
) -> None:
    """Attach a measured KPI to the test (`request` or the item); the name must be a known KPI."""
    spec_for(name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise KpiUsageError(f"{name}: a KPI value must be a number, not {type(value).__name__}")
    kpi_sink.report(_item(where), name, float(value), samples=samples, source=source)


def kpi_recorder(where: Node) -> KpiRecorder:
    """The `oxbot_kpi` recorder of this test, for fixtures that time, count instructions or count I/O."""
    from pytest_oxbot._plugin.kpi import recorder_for

    return recorder_for(_item(where))


def reported_kpis(where: Node) -> list[kpi_sink.KpiValue]:
    """The KPIs attached to the test so far (fixtures report at their teardown)."""
    return kpi_sink.reported(_item(where))
