"""pytest wiring of the KPI gate: options, the `oxbot_kpi` marker and fixture, judging, reports.

Which tests are judged: those that use the `oxbot_kpi` fixture, carry `@pytest.mark.oxbot_kpi(...)`, or
live under a performance path (`[tool.pytest_oxbot] performance_paths`, default `benchmarks`), unless
marked `oxbot_kpi(gate=False)`. KPIs that component fixtures report for other tests are recorded (JSON
report, named in the summary) but never fail them.

When: once everything the test used is torn down (component fixtures report at their teardown), in a
`pytest_runtest_teardown` hook that runs after pytest's own (`trylast`). A failing KPI fails the test's
teardown with the reasons and a "Captured oxbot KPIs teardown" section, as pytest-httpx's teardown
assertions do: pytest shows "ERROR at teardown of test_x" and the short summary names the test and the
reason. The plugin never drives the test protocol, so pytest-rerunfailures, pytest-timeout, flaky and
xdist see an ordinary failing teardown. A test whose own teardown already failed is not judged again.
The results travel as the test's `oxbot_kpis` user property (JSON), which every report carries, xdist
ships to the controller, and JUnit XML shows.

Cost: these are plain hooks (no hookwrapper: pluggy's generator round trip costs about five times a
plain call), and a test that reports nothing and is not in the baseline costs a few dictionary look-ups.

Nothing silently green: under `--oxbot-compare`, a KPI the baseline holds for a test that ran but that
this run did not measure is `missing` and fails that test with the reason; a baseline test that did not
run at all is `not run` in the summary and reports (`--oxbot-strict` fails the session on it).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from pytest_oxbot._plugin import usage
from pytest_oxbot._plugin.kpi_sink import KPI_RECORDS, report
from pytest_oxbot.errors import KpiUsageError, MissingExtraError, require
from pytest_oxbot.kpi.config import GateConfig, build_config, parse_targets, read_pyproject
from pytest_oxbot.kpi.fingerprint import environment_fingerprint, environment_key, other_cpu
from pytest_oxbot.kpi.report import display_path
from pytest_oxbot.kpi.session import GateSession, Outputs, step_summary_path

# Judging, baselines, the recorder and the reports are imported when a test reports a KPI or a baseline
# is compared: a run of ordinary tests pays for options, markers and a few cheap checks per test.
if TYPE_CHECKING:
    from pytest_oxbot.kpi.baseline import Baseline
    from pytest_oxbot.kpi.errors import InstrumentUnavailable
    from pytest_oxbot.kpi.gate import KpiResult
    from pytest_oxbot.kpi.measure import KpiRecorder

MARKER = "oxbot_kpi"
REQUIRE_INSTRUMENTS_ENV = "OXBOT_REQUIRE_INSTRUMENTS"
BENCHMARK_SAMPLES_MAX = 200
HOW_TO_JUDGE = (
    "use the oxbot_kpi fixture, mark the test @pytest.mark.oxbot_kpi, or put it under "
    "[tool.pytest_oxbot] performance_paths"
)


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
        *,
        updating: bool,
        report_only: bool,
        strict: bool,
        require_instruments: bool,
        describe: str,
    ) -> None:
        self.gate = gate
        self.baseline = baseline
        self.session = session
        self.performance_roots = performance_roots
        self.updating = updating
        self.report_only = report_only
        self.strict = strict
        self.require_instruments = require_instruments
        self.describe = describe
        self.written: list[str] = []
        self.ran: set[str] = set()  # test ids whose call phase ran (controller side)
        self.skipped: dict[str, str] = {}  # test id -> skip reason (controller side)
        self.not_run: list[str] = []


STATE = pytest.StashKey[_State]()
JUDGED = pytest.StashKey[bool]()
SET_UP = pytest.StashKey[bool]()  # the test's setup passed, so its body ran
JUDGED_UPTO = pytest.StashKey[int]()  # how many of the test's reported values earlier attempts judged
PROPERTY = "oxbot_kpis"
BASELINE_TEXT = "oxbot_baseline_text"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("oxbot", "pytest-oxbot")
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
        help="fail tests whose KPIs regressed against this baseline, or that no longer measure a KPI it "
        "holds (default path as above)",
    )
    group.addoption(
        "--oxbot-update-baseline",
        action="store_true",
        help="accept this run's values: regressions do not fail and the baseline is rewritten (wall-clock "
        "KPIs keep their last runs)",
    )
    group.addoption(
        "--oxbot-strict",
        action="store_true",
        help="with --oxbot-compare: fail the session when a test of the baseline did not run",
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
    group.addoption(
        "--oxbot-html", metavar="PATH", help="write a self-contained HTML report with plots (extra: plots)"
    )
    group.addoption(
        "--oxbot-export",
        action="append",
        default=[],
        dest="oxbot_exports",
        metavar="FORMAT:PATH",
        help="also write the KPIs for another tool (repeatable); FORMAT: bmf, github-action-benchmark, "
        "openmetrics, pytest-benchmark (see docs/kpi.md, Exporters)",
    )
    group.addoption(
        "--oxbot-history",
        nargs="?",
        const="",
        default=None,
        metavar="PATH|URL",
        help="append this run's KPIs with commit, branch and environment to a history (default "
        ".oxbot/history.jsonl; or sqlite:///file, postgresql+asyncpg://...); use the =PATH form",
    )
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
    usage.add_marker(
        config,
        MARKER,
        "(gate=True, **targets): judge this test's KPIs against per-test targets such as "
        "prompt_tokens=2500; gate=False only records them (e.g. a naive 'before' measurement)",
        _parse_marker,
    )
    try:
        state = _build_state(config)
    except (KpiUsageError, MissingExtraError) as exc:
        raise pytest.UsageError(f"pytest-oxbot: {exc}") from None
    config.stash[STATE] = state
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Collector(state), "oxbot-kpi-collector")
    if config.getoption("oxbot_benchmark") and config.args_source != pytest.Config.ArgsSource.ARGS:
        roots = [str(p) for p in state.performance_roots if p.exists()]
        if not roots:
            raise usage.usage_error(
                "--benchmark",
                f"found none of the performance paths {', '.join(state.gate.performance_paths)} "
                "(set [tool.pytest_oxbot] performance_paths)",
            )
        config.args[:] = roots
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(), "oxbot-kpi-xdist")


def _parse_marker(mark: pytest.Mark) -> tuple[bool, dict[str, float]]:
    """`@pytest.mark.oxbot_kpi(gate=True, **targets)`: whether to judge, and the per-test targets."""
    if mark.args:
        raise TypeError("takes keyword targets (e.g. prompt_tokens=2500) and an optional gate=False")
    kwargs = dict(mark.kwargs)
    gate = usage.flag(kwargs.pop("gate", True), "gate")
    return gate, parse_targets(kwargs, "targets")


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
    if baseline is not None and other_cpu(baseline.environment, environment_fingerprint()):
        gate = gate._replace(policy=gate.policy.on_other_cpu())  # (on xdist workers too: they judge)
    if baseline is not None and not hasattr(config, "workerinput"):
        _check_baseline(config, baseline, gate)
    html = _path(config, "oxbot_html")
    if html is not None:
        require("matplotlib", feature="--oxbot-html (the report's plots)", extra="plots")
    if config.getoption("oxbot_strict") and baseline is None:
        raise usage.usage_error("--oxbot-strict", "needs a baseline to compare against (--oxbot-compare)")
    describe = _describe(config, gate, against if baseline is not None else None, save_path)
    outputs = Outputs(
        save_baseline=save_path,
        merge_into=baseline if update else None,
        json=_path(config, "oxbot_json"),
        markdown=_path(config, "oxbot_markdown"),
        html=html,
        step_summary=step_summary_path(os.environ),
        history_of=save_path or compare_path or default,
        exports=_exports(config.getoption("oxbot_exports")),
        compared=baseline,
        history_store=_history_store(config),
    )
    meta = {
        "environment": environment_fingerprint(),
        "targets_source": " + ".join(gate.sources),
        "targets": gate.targets,
        "baseline": display_path(against, config.rootpath) if against and baseline is not None else None,
    }
    return _State(
        gate,
        baseline,
        GateSession(outputs, describe, meta, keep_runs=gate.baseline_runs),
        [rootpath / p for p in gate.performance_paths],
        updating=update,
        report_only=bool(config.getoption("oxbot_report_only")),
        strict=bool(config.getoption("oxbot_strict")),
        require_instruments=os.environ.get(REQUIRE_INSTRUMENTS_ENV, "").strip().lower()
        in {"1", "true", "yes"},
        describe=describe,
    )


def _exports(specs: list[str]) -> tuple[tuple[str, Path], ...]:
    if not specs:
        return ()
    from pytest_oxbot.kpi.export import parse_spec

    with usage.naming("--oxbot-export"):
        return tuple(parse_spec(spec) for spec in specs)


def _check_baseline(config: pytest.Config, baseline: Baseline, gate: GateConfig) -> None:
    """Warn when the baseline comes from another machine; refuse early when judging it needs scipy."""
    from pytest_oxbot.kpi.fingerprint import differences

    diff = differences(baseline.environment, environment_fingerprint())
    if diff:
        untagged = sum(
            1
            for kpis in baseline.tests.values()
            for name, entry in kpis.items()
            if _noisy(name) and not entry.hosts
        )
        consequence = (
            f"{untagged} wall-clock KPI(s) saved without their environment are judged against runs from "
            "elsewhere (re-record them with --oxbot-update-baseline)"
            if untagged
            else "wall-clock KPIs are judged only against its runs from this environment"
        )
        if other_cpu(baseline.environment, environment_fingerprint()):
            consequence += (
                f"; instruction counts are judged within {gate.policy.instruction_tolerance:.0%} "
                "(other_cpu_instruction_tolerance: the C library's routines differ by CPU) until the "
                "baseline is re-recorded on this CPU"
            )
        config.issue_config_time_warning(
            OxbotEnvironmentWarning(
                f"pytest-oxbot: baseline was saved in another environment ({'; '.join(diff)}); {consequence}"
            ),
            stacklevel=2,
        )
    within_run = gate.policy.within_run and any(
        entry.samples and len(entry.runs) < gate.policy.min_runs and _noisy(name)
        for kpis in baseline.tests.values()
        for name, entry in kpis.items()
    )
    if within_run:
        require("scipy", feature="judging wall-clock KPIs of a one-run baseline", extra="stats")


@functools.cache
def _environment_key() -> str:
    """Kept with every wall-clock result; the same all session (reading /proc/cpuinfo once)."""
    return environment_key()


def _noisy(name: str) -> bool:
    from pytest_oxbot.kpi.catalogue import spec_for

    try:
        return spec_for(name).noisy
    except KpiUsageError:
        return False


def _path(config: pytest.Config, name: str) -> Path | None:
    value = config.getoption(name)
    return Path(value) if value else None


def _describe(config: pytest.Config, gate: GateConfig, compare: Path | None, save: Path | None) -> str:
    """The gate's part of the report header."""
    parts = [f"targets from {' + '.join(gate.sources)}"]
    root = config.rootpath
    parts.append(f"baseline {display_path(compare, root)}" if compare else "no baseline comparison")
    if save:
        parts.append(f"saving baseline to {display_path(save, root)}")
    if config.getoption("oxbot_report_only"):
        parts.append("report only")
    return "; ".join(parts)


def describe(config: pytest.Config) -> str:
    """The gate's fragment of the plugin's one header line."""
    return config.stash[STATE].describe


class _XdistHooks:
    """Registered only when pytest-xdist is present: workers judge against the controller's baseline copy."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        state = node.config.stash[STATE]
        if state.baseline is not None:
            from pytest_oxbot.kpi import baseline as baseline_io

            # Every sample (identical ones merged): workers judge exactly what a serial run would.
            text = baseline_io.to_json(state.baseline, keep_samples=sys.maxsize)
            node.workerinput[BASELINE_TEXT] = text


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    usage.check_markers(config, items)
    roots = config.stash[STATE].performance_roots
    in_roots: dict[Path, bool] = {}  # one answer per file, not per test: this runs on every item
    for item in items:
        marker = usage.marker_value(item, MARKER)
        if marker is not None and not marker[0]:
            continue
        path = item.path
        if path not in in_roots:
            in_roots[path] = any(path.is_relative_to(root) for root in roots)
        if marker is not None or in_roots[path] or MARKER in getattr(item, "fixturenames", ()):
            item.stash[JUDGED] = True


@pytest.fixture
def oxbot_kpi(request: pytest.FixtureRequest) -> KpiRecorder:
    """Record KPIs of this test: `record`, `measure`, `measure_async`, `track_memory`, `benchmark_async`,
    `count_instructions`, `count_redis`, `count_sql`, `db_buffers`."""
    return recorder_for(request.node)


def recorder_for(node: pytest.Item) -> KpiRecorder:
    """A `KpiRecorder` whose values go to `node`; instrument gaps skip (or fail, when required) the test."""
    from pytest_oxbot.kpi.measure import KpiRecorder

    state = node.config.stash.get(STATE, None)

    def sink(name: str, value: float, samples: Any, source: str) -> None:
        report(node, name, value, samples=samples, source=source)

    def unavailable(exc: InstrumentUnavailable) -> NoReturn:
        if state is not None and state.require_instruments:
            pytest.fail(f"{exc} (and {REQUIRE_INSTRUMENTS_ENV}=1 demands it)", pytrace=False)
        pytest.skip(str(exc))

    return KpiRecorder(sink, unavailable=unavailable)


@pytest.hookimpl(trylast=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Reached only when every setup before it passed: the test body runs next."""
    usage.fail_if_invalid(item)
    item.stash[SET_UP] = True


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """After pytest's own teardown (every fixture has reported): judge, and fail the teardown if due."""
    records = item.stash.get(KPI_RECORDS, None)
    if records is not None:  # a rerun of this item judges only what its own attempt reported
        judged_before = item.stash.get(JUDGED_UPTO, 0)
        item.stash[JUDGED_UPTO] = len(records)
        records = records[judged_before:]
    ran = item.stash.get(SET_UP, False)
    if ran:
        del item.stash[SET_UP]
    judged = item.stash.get(JUDGED, False)
    state = item.config.stash[STATE]
    expected = _expected(item, state)
    if not records and not expected and not judged:
        return
    results = _results(item, state, list(records or []), judged, expected, ran)
    if item.user_properties:  # an earlier attempt's results (pytest-rerunfailures)
        item.user_properties[:] = [p for p in item.user_properties if p[0] != PROPERTY]
    if not results:
        return
    item.user_properties.append((PROPERTY, json.dumps([r.to_dict() for r in results])))
    judged_results = [r for r in results if r.judged]
    if not judged_results:
        return
    from pytest_oxbot.kpi.report.table import render_text, summary_line

    table = "\n".join([*render_text(judged_results), summary_line(judged_results)])
    item.add_report_section("teardown", "oxbot KPIs", table)
    failing = [
        r
        for r in judged_results
        if r.verdict == "fail" or (r.verdict in ("regressed", "missing") and not state.updating)
    ]
    # A test whose body already failed is not failed twice (sys.last_value: pytest's post-mortem record).
    if failing and not state.report_only and not (ran and getattr(sys, "last_value", None) is not None):
        pytest.fail("\n".join(f"KPI gate: {r.reason}" for r in failing), pytrace=False)


def _results(
    item: pytest.Item, state: _State, records: list[Any], judged: bool, expected: dict[str, Any], ran: bool
) -> list[KpiResult]:
    """This attempt's verdicts: measured KPIs, plus the baseline's that went missing."""
    if ran:
        if judged:
            records += _benchmark_time(item)
        if not records and not expected:
            return []
        return _judge(item, records, judged, expect_baseline=bool(expected))
    why = _skipped_by_option(item)
    if why is None or not expected:
        return []  # an ordinary skip or a setup error: the controller lists the test as "not run"
    from pytest_oxbot.kpi.gate import missing

    return [missing(item.nodeid, n, e, f"{n} not measured: {why}") for n, e in sorted(expected.items())]


def _expected(item: pytest.Item, state: _State) -> dict[str, Any]:
    """The baseline's KPIs for this test, unless it opted out with `@pytest.mark.oxbot_kpi(gate=False)`."""
    if state.baseline is None:
        return {}
    marker = usage.marker_value(item, MARKER)
    if marker is not None and not marker[0]:
        return {}
    return state.baseline.entries(item.nodeid)


def _judge(item: pytest.Item, records: list[Any], judged: bool, *, expect_baseline: bool) -> list[KpiResult]:
    from pytest_oxbot.kpi.gate import Measurement, judge
    from pytest_oxbot.kpi.load import busy

    state = item.config.stash[STATE]
    measurements = [Measurement(v.name, v.value, v.samples, v.source) for v in records]
    marker = usage.marker_value(item, MARKER)
    overrides = marker[1] if marker else {}
    targets = {m.name: state.gate.target(m.name, overrides) for m in measurements}
    baseline = state.baseline.entries(item.nodeid) if state.baseline else None
    return judge(
        item.nodeid,
        measurements,
        targets=targets,
        baseline=baseline,
        policy=state.gate.policy,
        judged=judged,
        expect_baseline=expect_baseline,
        why_missing=lambda name: _why_missing(item, name),
        busy=busy(state.gate.max_cpu_pressure) if baseline else "",
        host=_environment_key(),
    )


def _benchmark_time(item: pytest.Item) -> list[Any]:
    """pytest-benchmark's stats (when the test used `benchmark`) as a `benchmark_time` KPI."""
    from pytest_oxbot._plugin.kpi_sink import KpiValue

    fixture = (getattr(item, "funcargs", None) or {}).get("benchmark")
    stats: Any = getattr(getattr(fixture, "stats", None), "stats", None)
    data = list(getattr(stats, "data", None) or [])
    if not data:
        return []
    step = max(1, len(data) // BENCHMARK_SAMPLES_MAX)
    return [KpiValue("benchmark_time", float(stats.mean), tuple(data[::step]), "pytest-benchmark")]


def _benchmark_off(item: pytest.Item) -> str | None:
    """Why pytest-benchmark measured nothing in this test, if an option or the set-up says so."""
    config = item.config
    if config.getoption("codspeed", default=False):
        return "pytest-codspeed replaced pytest-benchmark's fixture (--codspeed)"
    if config.getoption("benchmark_disable", default=False):
        return "pytest-benchmark is disabled (--benchmark-disable)"
    if hasattr(config, "workerinput") or config.getoption("dist", default="no") != "no":
        return "pytest-benchmark disables itself under pytest-xdist (-n)"
    if "benchmark" not in getattr(item, "fixturenames", ()):
        return "the test no longer uses pytest-benchmark's benchmark fixture"
    return None


def _skipped_by_option(item: pytest.Item) -> str | None:
    """An option that skipped a judged test (its KPIs are then missing, not merely "not run")."""
    config = item.config
    uses_benchmark = "benchmark" in getattr(item, "fixturenames", ())
    if config.getoption("benchmark_skip", default=False) and uses_benchmark:
        return "pytest-benchmark skipped the test (--benchmark-skip)"
    if config.getoption("benchmark_only", default=False) and not uses_benchmark:
        return (
            "pytest-benchmark skipped the test, which does not use the benchmark fixture (--benchmark-only)"
        )
    return None


def _why_missing(item: pytest.Item, name: str) -> str:
    if name == "benchmark_time":
        return f"{name} not measured: {_benchmark_off(item) or 'pytest-benchmark recorded no rounds'}"
    if name.endswith("_instructions"):
        return f"{name} not measured: the test ran but no count_instructions(...) recorded it"
    return f"{name} not measured: the test ran but did not record it (a removed record() call or fixture?)"


class _Collector:
    """Per-config receiver of KPI results from test reports (local or from xdist workers)."""

    def __init__(self, state: _State) -> None:
        self._state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        when = report.when
        if when == "call":
            self._state.ran.add(report.nodeid)
        elif when == "setup" and report.skipped and isinstance(report.longrepr, tuple):
            self._state.skipped[report.nodeid] = str(report.longrepr[2]).removeprefix("Skipped: ")
        elif when == "teardown" and report.user_properties:
            for name, value in report.user_properties:
                if name == PROPERTY:
                    from pytest_oxbot.kpi.gate import KpiResult

                    self._state.session.add(KpiResult.from_dict(d) for d in json.loads(str(value)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput") or STATE not in config.stash:
        return
    state = config.stash[STATE]
    if state.baseline is not None:
        _list_not_run(state)
        if state.strict and state.not_run and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if state.session.outputs.exports:
        state.session.benchmarks = _pytest_benchmark_entries(config)
    # The history first: the HTML report draws its trends from it, this run included.
    appended = _append_history(config, state) if config.getoption("oxbot_history") is not None else None
    try:
        state.written = state.session.finish()
    except OSError as exc:
        warnings.warn(OxbotEnvironmentWarning(f"pytest-oxbot: could not write a report: {exc}"), stacklevel=1)
    if appended is not None:
        state.written.append(appended)


def _history_store(config: pytest.Config) -> str | None:
    """Where `--oxbot-history` writes (None: not asked for); a value that names no store is a usage error."""
    value = config.getoption("oxbot_history")
    if value is None:
        return None
    from pytest_oxbot.kpi.history import DEFAULT_PATH, open_store

    target = value or str(config.rootpath / DEFAULT_PATH)
    try:
        open_store(target)
    except KpiUsageError as exc:
        raise usage.usage_error("--oxbot-history", str(exc)) from None
    return target


def _append_history(config: pytest.Config, state: _State) -> str:
    """Append this session's record (controller only: workers return before this); never fails the run."""
    from pytest_oxbot.kpi.history import append_run

    target = _history_store(config)
    assert target is not None
    results = state.session.results
    if not any(r.value is not None for r in results):
        return "history: no KPI measured in this session, no run recorded"
    try:
        return append_run(
            target,
            results,
            env=os.environ,
            cwd=config.rootpath,
            environment=environment_fingerprint(),
            max_runs=state.gate.history_max_runs,
        )
    except KpiUsageError as exc:
        warnings.warn(OxbotEnvironmentWarning(f"pytest-oxbot: {exc}"), stacklevel=1)
        return f"history not written: {exc}"


def _pytest_benchmark_entries(config: pytest.Config) -> dict[str, Any]:
    """pytest-benchmark's own results of this session (its JSON entries) by test id, for the exporters."""
    session = getattr(config, "_benchmarksession", None)
    return {
        bench.fullname: bench.as_dict(include_data=False)
        for bench in getattr(session, "benchmarks", None) or []
        if not getattr(bench, "has_error", False)
    }


def _list_not_run(state: _State) -> None:
    """Every baseline test this session did not run becomes `not run`, with the skip reason if any."""
    assert state.baseline is not None
    seen = state.ran | set(state.session.by_test)
    for test_id in sorted(set(state.baseline.tests) - seen):
        why = state.skipped.get(test_id)
        reason = (
            f"skipped: {why}" if why else "not collected in this session (deselected, filtered or renamed)"
        )
        state.session.add_not_run_test(test_id, state.baseline.entries(test_id), reason)
        state.not_run.append(test_id)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or STATE not in config.stash:
        return
    state = config.stash[STATE]
    judged = [r for r in state.session.judged if r.verdict != "not run"]
    recorded = state.session.recorded
    if not judged and not recorded and not state.written and not state.not_run:
        return
    from pytest_oxbot.kpi.report.table import render_text, summary_line

    write = terminalreporter.write_line
    terminalreporter.write_sep("=", "oxbot KPI gate")
    if judged:
        for line in render_text(judged):
            write(line)
    write(summary_line(judged) + (" (report only)" if state.report_only else ""))
    for r in judged:
        if r.verdict == "unstable":
            write(f"unstable (not failed): {r.test_id}: {r.reason}")
    if state.not_run:
        shown = state.not_run[:10]
        more = f" (and {len(state.not_run) - len(shown)} more)" if len(state.not_run) > len(shown) else ""
        verdict = (
            "failing the session (--oxbot-strict)" if state.strict else "not failed; --oxbot-strict fails"
        )
        write(f"not run: {len(state.not_run)} baseline test(s) did not run{more}, {verdict}:")
        for test_id in shown:
            write(f"  {test_id}: {state.session.by_test[test_id][0].reason}")
    if recorded:
        by_name: dict[str, list[str]] = {}
        for r in recorded:
            by_name.setdefault(r.name, []).append(r.test_id)
        write(f"recorded but not judged (to judge a test: {HOW_TO_JUDGE}):")
        for name, tests in sorted(by_name.items()):
            example = ", ".join(sorted(tests)[:2]) + (", ..." if len(tests) > 2 else "")
            write(f"  {name}: {len(tests)} test(s), e.g. {example}")
    for line in state.written:
        write(line)
