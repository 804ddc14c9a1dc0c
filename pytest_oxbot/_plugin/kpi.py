"""pytest wiring of the KPI gate: options, the `oxbot_kpi` marker and fixture, judging hooks, reports.

Which tests are judged: those that use the `oxbot_kpi` fixture, carry `@pytest.mark.oxbot_kpi(...)`, or
live under a performance path (`[tool.pytest_oxbot] performance_paths`, default `benchmarks`), unless
marked `oxbot_kpi(gate=False)`. KPIs that component fixtures report for other tests are recorded (JSON
report) but never fail them.

Judging happens after teardown (components report there); a judged test therefore runs through
`runtestprotocol(log=False)` so its *call* report can carry the verdict before anything is logged:
the test itself fails, with its reason and an "oxbot KPIs" section, as with pytest-memray's limits.
Results travel on the teardown report, which pytest-xdist ships to the controller unchanged.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _pytest.runner import runtestprotocol

from pytest_oxbot._plugin.kpi_sink import KPI_RECORDS, report
from pytest_oxbot._urls import redact_url
from pytest_oxbot.errors import KpiUsageError

# What every run needs (targets, the session) is imported here; the rest only when used: baselines when
# one is compared or saved, judging when a test reported a KPI, the recorder when a test requests
# `oxbot_kpi`, the text table when there is something to show.
from pytest_oxbot.kpi.config import GateConfig, build_config, parse_targets, read_pyproject
from pytest_oxbot.kpi.fingerprint import environment_fingerprint
from pytest_oxbot.kpi.session import GateSession, Outputs, step_summary_path

if TYPE_CHECKING:
    from pytest_oxbot.kpi.baseline import Baseline
    from pytest_oxbot.kpi.gate import KpiResult
    from pytest_oxbot.kpi.measure import KpiRecorder


class OxbotEnvironmentWarning(pytest.PytestWarning):
    """The baseline was measured on another machine or interpreter: timings may not compare."""


class _State:
    """Per-session state kept in `config.stash`."""

    def __init__(
        self,
        gate: GateConfig,
        baseline: Baseline | None,
        session: GateSession,
        performance_roots: list[Path],
        fail_on_regression: bool,
        report_only: bool,
    ) -> None:
        self.gate = gate
        self.baseline = baseline
        self.session = session
        self.performance_roots = performance_roots
        self.fail_on_regression = fail_on_regression
        self.report_only = report_only
        self.written: list[str] = []


STATE = pytest.StashKey[_State]()
JUDGED = pytest.StashKey[bool]()
MARKER_TARGETS = pytest.StashKey[dict[str, float]]()
MARKER_ERROR = pytest.StashKey[str]()
RESULTS = pytest.StashKey[list["KpiResult"]]()
BASELINE_TEXT = "oxbot_baseline_text"
BENCHMARK_SAMPLES_MAX = 200


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oxbot", "pytest-oxbot KPI gate")
    group.addoption(
        "--oxbot-target",
        action="append",
        default=[],
        dest="oxbot_targets",
        metavar="KPI=VALUE",
        help="override a KPI target for the session, e.g. prompt_tokens=2500 or "
        "llm_response_time=600ms (repeatable)",
    )
    group.addoption(
        "--oxbot-save-baseline",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="write this run's KPIs as the baseline (default path: [tool.pytest_oxbot] baseline, "
        ".oxbot/baseline.json); use the =PATH form before test paths",
    )
    group.addoption(
        "--oxbot-compare",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="fail tests whose KPIs regressed against this baseline (default path as above)",
    )
    group.addoption(
        "--oxbot-update-baseline",
        action="store_true",
        help="accept this run's values: regressions do not fail and the baseline is rewritten",
    )
    group.addoption(
        "--oxbot-report-only", action="store_true", help="report KPI verdicts without failing tests"
    )
    group.addoption("--oxbot-json", metavar="PATH", help="write every KPI result as JSON")
    group.addoption(
        "--oxbot-markdown",
        metavar="PATH",
        help="write a Markdown summary for a pull-request comment (also appended to "
        "$GITHUB_STEP_SUMMARY when set)",
    )
    group.addoption("--oxbot-html", metavar="PATH", help="write a self-contained HTML report with plots")
    group.addoption(
        "--benchmark",
        action="store_true",
        dest="oxbot_benchmark",
        help="run the performance tests (performance_paths) with the KPI gate on",
    )
    parser.addini(
        "oxbot_targets",
        type="linelist",
        default=[],
        help="KPI targets, one KPI=VALUE per line (pytest-oxbot)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "oxbot_kpi(gate=True, **targets): judge this test's KPIs against per-test targets such as "
        "prompt_tokens=2500; gate=False only records them (e.g. a naive 'before' measurement)",
    )
    try:
        state = _build_state(config)
    except KpiUsageError as exc:
        raise pytest.UsageError(f"pytest-oxbot: {exc}") from None
    config.stash[STATE] = state
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Collector(state), "oxbot-kpi-collector")
    if config.getoption("oxbot_benchmark") and config.args_source != pytest.Config.ArgsSource.ARGS:
        roots = [str(p) for p in state.performance_roots if p.exists()]
        if not roots:
            raise pytest.UsageError(
                "pytest-oxbot: --benchmark found none of the performance paths "
                f"{', '.join(state.gate.performance_paths)} (set [tool.pytest_oxbot] performance_paths)"
            )
        config.args[:] = roots
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(), "oxbot-kpi-xdist")


def _build_state(config: pytest.Config) -> _State:
    rootpath = config.rootpath
    gate = build_config(
        read_pyproject(rootpath), config.getini("oxbot_targets"), config.getoption("oxbot_targets")
    )
    save = config.getoption("oxbot_save_baseline")
    compare = config.getoption("oxbot_compare")
    update = bool(config.getoption("oxbot_update_baseline"))
    default = rootpath / gate.baseline_path

    def resolve(value: str | None) -> Path | None:
        return None if value is None else (Path(value) if value else default)

    compare_path, save_path = resolve(compare), resolve(save)
    if update and save_path is None:
        save_path = compare_path or default
    baseline: Baseline | None = None
    # --oxbot-update-baseline compares against the file it will rewrite, when that exists already.
    against = save_path if update and (compare_path is None or not compare_path.exists()) else compare_path
    worker_text = getattr(config, "workerinput", {}).get(BASELINE_TEXT)
    if worker_text is not None:
        from pytest_oxbot.kpi import baseline as baseline_io

        baseline = baseline_io.from_json(worker_text, str(against))
    elif against is not None and (not update or against.exists()):
        from pytest_oxbot.kpi import baseline as baseline_io

        baseline = baseline_io.load(against)
    if baseline is not None and not hasattr(config, "workerinput"):
        from pytest_oxbot.kpi.fingerprint import differences

        diff = differences(baseline.environment, environment_fingerprint())
        if diff:
            config.issue_config_time_warning(
                OxbotEnvironmentWarning(
                    f"pytest-oxbot: baseline was saved in another environment "
                    f"({'; '.join(diff)}); timing comparisons may be off"
                ),
                stacklevel=2,
            )
    header = _header(config, gate, against if baseline is not None else None, save_path)
    outputs = Outputs(
        save_baseline=save_path,
        merge_into=baseline if update else None,
        json=_path(config, "oxbot_json"),
        markdown=_path(config, "oxbot_markdown"),
        html=_path(config, "oxbot_html"),
        step_summary=step_summary_path(os.environ),
        history_of=save_path or compare_path or default,
    )
    meta = {
        "environment": environment_fingerprint(),
        "targets_source": " + ".join(gate.sources),
        "targets": gate.targets,
        "baseline": str(against) if baseline is not None else None,
        "backends": _backends(config),
    }
    return _State(
        gate,
        baseline,
        GateSession(outputs, header, meta),
        [rootpath / p for p in gate.performance_paths],
        fail_on_regression=not update,
        report_only=bool(config.getoption("oxbot_report_only")),
    )


def _path(config: pytest.Config, name: str) -> Path | None:
    value = config.getoption(name)
    return Path(value) if value else None


def _backends(config: pytest.Config) -> str:
    """The backends this run uses (options first, then the environment, as the fixtures read them)."""
    redis = config.getoption("oxbot_redis_url", default=None) or os.environ.get("OXBOT_REDIS_URL")
    database = config.getoption("oxbot_database_url", default=None) or os.environ.get("OXBOT_DATABASE_URL")
    shown_redis = redact_url(redis) or "fakeredis"
    return f"redis={shown_redis}, database={redact_url(database) or 'sqlite (in memory)'}"


def _header(config: pytest.Config, gate: GateConfig, compare: Path | None, save: Path | None) -> str:
    parts = [f"targets from {' + '.join(gate.sources)}"]
    parts.append(f"baseline {compare}" if compare else "no baseline comparison")
    if save:
        parts.append(f"saving baseline to {save}")
    if config.getoption("oxbot_report_only"):
        parts.append("report only")
    parts.append(f"backends: {_backends(config)}")
    return "; ".join(parts)


def pytest_report_header(config: pytest.Config) -> str:
    return f"oxbot KPI gate: {config.stash[STATE].session.header}"


class _XdistHooks:
    """Registered only when pytest-xdist is present: workers judge against the controller's baseline copy."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        state = node.config.stash[STATE]
        if state.baseline is not None:
            from pytest_oxbot.kpi import baseline as baseline_io

            node.workerinput[BASELINE_TEXT] = baseline_io.to_json(state.baseline)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    roots = config.stash[STATE].performance_roots
    in_roots: dict[Path, bool] = {}  # one answer per file, not per test: this runs on every item
    for item in items:
        marker = item.get_closest_marker("oxbot_kpi")
        gate = True
        if marker is not None:
            gate = _read_marker(item, marker)
        path = item.path
        if path not in in_roots:
            in_roots[path] = any(path.is_relative_to(root) for root in roots)
        judged = gate and (
            marker is not None or "oxbot_kpi" in getattr(item, "fixturenames", ()) or in_roots[path]
        )
        if judged:
            item.stash[JUDGED] = True


def _read_marker(item: pytest.Item, marker: pytest.Mark) -> bool:
    """Store the marker's targets (or its error, raised at setup); False when it says `gate=False`."""
    kwargs = dict(marker.kwargs)
    gate = kwargs.pop("gate", True)
    if marker.args or not isinstance(gate, bool):
        item.stash[MARKER_ERROR] = (
            "pytest-oxbot: @pytest.mark.oxbot_kpi takes keyword targets (e.g. prompt_tokens=2500) "
            "and an optional gate=False"
        )
        return False
    try:
        item.stash[MARKER_TARGETS] = parse_targets(kwargs, "@pytest.mark.oxbot_kpi")
    except KpiUsageError as exc:
        item.stash[MARKER_ERROR] = f"pytest-oxbot: {exc}"
    return gate


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    error = item.stash.get(MARKER_ERROR, None)
    if error is not None:
        pytest.fail(error, pytrace=False)


@pytest.fixture
def oxbot_kpi(request: pytest.FixtureRequest) -> KpiRecorder:
    """Record KPIs of this test: `record`, `measure`, `measure_async`, `track_memory`, `benchmark_async`."""
    from pytest_oxbot.kpi.measure import KpiRecorder

    node = request.node

    def sink(name: str, value: float, samples: Any, source: str) -> None:
        report(node, name, value, samples=samples, source=source)

    return KpiRecorder(sink)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if not item.stash.get(JUDGED, False):
        return None
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    _apply_verdicts(item, reports)
    for rep in reports:
        ihook.pytest_runtest_logreport(report=rep)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    if call.when == "teardown":
        judged = item.stash.get(JUDGED, False)
        if judged:
            _record_benchmark(item)
        records = item.stash.get(KPI_RECORDS, None)
        if records:
            results = _judge(item, judged)
            item.stash[RESULTS] = results
            rep.oxbot_kpis = [r.to_dict() for r in results]
    return rep


def _record_benchmark(item: pytest.Item) -> None:
    """Turn pytest-benchmark's stats (when the test used `benchmark`) into a `benchmark_time` KPI."""
    fixture = (getattr(item, "funcargs", None) or {}).get("benchmark")
    stats: Any = getattr(getattr(fixture, "stats", None), "stats", None)
    data = list(getattr(stats, "data", None) or [])
    if not data:
        return
    step = max(1, len(data) // BENCHMARK_SAMPLES_MAX)
    report(item, "benchmark_time", float(stats.mean), samples=data[::step], source="pytest-benchmark")


def _judge(item: pytest.Item, judged: bool) -> list[KpiResult]:
    from pytest_oxbot.kpi.gate import Measurement, judge

    state = item.config.stash[STATE]
    measurements = [Measurement(v.name, v.value, v.samples, v.source) for v in item.stash[KPI_RECORDS]]
    overrides = item.stash.get(MARKER_TARGETS, {})
    try:
        targets = {m.name: state.gate.target(m.name, overrides) for m in measurements}
        baseline = state.baseline.entries(item.nodeid) if state.baseline else None
        return judge(
            item.nodeid,
            measurements,
            targets=targets,
            baseline=baseline,
            policy=state.gate.policy,
            judged=judged,
        )
    except KpiUsageError as exc:
        item.stash[MARKER_ERROR] = f"pytest-oxbot: {exc}"
        return []


def _apply_verdicts(item: pytest.Item, reports: list[pytest.TestReport]) -> None:
    """Fail the test's call report with the KPI reasons (unless report-only or already failed)."""
    state = item.config.stash[STATE]
    call = next((r for r in reports if r.when == "call"), None)
    if call is None:
        return
    usage = item.stash.get(MARKER_ERROR, None)
    results = item.stash.get(RESULTS, [])
    if results:
        from pytest_oxbot.kpi.report.table import render_text, summary_line

        call.sections.append(("oxbot KPIs", "\n".join([*render_text(results), summary_line(results)])))
    failing = [
        r for r in results if r.verdict == "fail" or (r.verdict == "regressed" and state.fail_on_regression)
    ]
    reasons = [usage] if usage else [f"KPI gate: {r.reason}" for r in failing]
    if reasons and call.passed and (usage or not state.report_only):
        call.outcome = "failed"
        call.longrepr = "\n".join(reasons)


class _Collector:
    """Per-config receiver of KPI results from test reports (local or from xdist workers)."""

    def __init__(self, state: _State) -> None:
        self._state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "oxbot_kpis", None)
        if data and report.when == "teardown":
            from pytest_oxbot.kpi.gate import KpiResult

            self._state.session.add(KpiResult.from_dict(d) for d in data)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput") or STATE not in config.stash:
        return
    state = config.stash[STATE]
    try:
        state.written = state.session.finish()
    except OSError as exc:
        warnings.warn(OxbotEnvironmentWarning(f"pytest-oxbot: could not write a report: {exc}"), stacklevel=1)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or STATE not in config.stash:
        return
    state = config.stash[STATE]
    judged = state.session.judged
    recorded = len(state.session.results) - len(judged)
    if not judged and not recorded and not state.written:
        return
    from pytest_oxbot.kpi.report.table import render_text, summary_line

    terminalreporter.write_sep("=", "oxbot KPI gate")
    if judged:
        for line in render_text(judged):
            terminalreporter.write_line(line)
    terminalreporter.write_line(summary_line(judged) + (" (report only)" if state.report_only else ""))
    for r in judged:
        if r.verdict == "unstable":
            terminalreporter.write_line(f"unstable (not failed): {r.test_id}: {r.reason}")
    if recorded:
        terminalreporter.write_line(f"{recorded} KPI value(s) recorded by tests that are not judged")
    for line in state.written:
        terminalreporter.write_line(line)
