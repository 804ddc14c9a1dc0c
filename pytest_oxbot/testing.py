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
the test, for a fixture that measures rather than counts. `phase(label, request)` tells the terminal
what a long, silent stretch of a benchmark is doing (seeding, a run under valgrind) and how long it took.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, SupportsFloat

import pytest

from pytest_oxbot._plugin import kpi_sink
from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.catalogue import spec_for

if TYPE_CHECKING:
    from pytest_oxbot.kpi.measure import KpiRecorder

__all__ = ["KpiValue", "kpi_recorder", "phase", "report_kpi", "reported_kpis"]

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


@contextmanager
def phase(label: str, where: Node | pytest.Config) -> Iterator[None]:
    """Say on pytest's terminal that a long, silent phase runs, and how long it took.

        with phase("seeding database (100,000 trades)", request):
            await seed_volume(db, SeedSpec())

    A benchmark that seeds a database or runs under valgrind for minutes otherwise looks hung. On a
    terminal the phase's line is completed in place (`seeding database ... 41.2 s`); in a CI log it is
    a line when it starts and one with the elapsed time when it ends. Quiet runs (`-q`), xdist workers
    (their output is not shown) and runs without a terminal reporter print nothing. Capture is
    suspended only for the write, so `-s` and captured runs both show it. `where` is the test's
    `request`, item, or the config (session fixtures).
    """
    config = where if isinstance(where, pytest.Config) else where.config
    terminal = _phase_terminal(config)
    if terminal is None:
        yield
        return
    started = time.perf_counter()
    _phase_write(config, terminal, label, None)
    outcome = "failed after "
    try:
        yield
        outcome = ""
    finally:
        _phase_write(config, terminal, label, f"{outcome}{time.perf_counter() - started:.1f} s")


class _Line:
    """The phase whose line is open on a terminal (the cursor at its end), if any."""

    open: str | None = None


def _phase_terminal(config: pytest.Config) -> Any:
    if hasattr(config, "workerinput") or config.get_verbosity() < 0:
        return None
    return config.pluginmanager.get_plugin("terminalreporter")


def _phase_write(config: pytest.Config, terminal: Any, label: str, done: str | None) -> None:
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
        if not terminal.isatty():
            terminal.write_line(f"phase: {label} ..." if done is None else f"phase: {label}: {done}")
            return
        if done is not None and _Line.open == label:
            terminal.write(f" {done}\n", flush=True)
        elif done is not None:
            terminal.write_line(f"phase: {label}: {done}")
        else:
            if _Line.open is not None:  # an outer phase's line: closed now, completed on a line of its own
                terminal.write("\n")
            terminal.ensure_newline()
            terminal.write(f"phase: {label} ...", flush=True)
        _Line.open = label if done is None else None
