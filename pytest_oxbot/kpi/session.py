"""What a gated session keeps and writes: all results, the baseline to save, the report files.

Pure library code: the plugin feeds it results (from its own tests or from xdist workers' reports) and
calls `finish()` once on the controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

# Baselines and reports are imported when the session ends, and only those that are asked for: the
# pytest plugin builds a GateSession in every run.
if TYPE_CHECKING:
    from pytest_oxbot.kpi.baseline import Baseline, BaselineEntry
    from pytest_oxbot.kpi.gate import KpiResult


class Outputs(NamedTuple):
    """Where this session writes (None: not asked for)."""

    save_baseline: Path | None = None
    merge_into: Baseline | None = None
    json: Path | None = None
    markdown: Path | None = None
    html: Path | None = None
    step_summary: Path | None = None
    history_of: Path | None = None
    exports: tuple[tuple[str, Path], ...] = ()  # (format, path) of each --oxbot-export
    history_store: str | None = None  # --oxbot-history: the HTML report's trends come from it
    compared: Baseline | None = None  # the baseline judged against: its samples for the HTML report


class GateSession:
    """Results of one session by test (a rerun's attempt replaces the earlier one), and what to write."""

    def __init__(
        self,
        outputs: Outputs | None = None,
        header: str = "",
        meta: dict[str, Any] | None = None,
        *,
        keep_runs: int = 5,
    ) -> None:
        self.outputs = outputs if outputs is not None else Outputs()
        self.header = header
        self.meta = meta if meta is not None else {}
        self.by_test: dict[str, list[KpiResult]] = {}
        self.keep_runs = keep_runs
        self.benchmarks: dict[str, Any] = {}  # pytest-benchmark's own entries by test id (for exporters)

    def add(self, results: Iterable[KpiResult]) -> None:
        """One test's results (from its teardown report); a later attempt of the same test replaces them."""
        fresh: dict[str, list[KpiResult]] = {}
        for r in results:
            fresh.setdefault(r.test_id, []).append(r)
        self.by_test.update(fresh)

    @property
    def results(self) -> list[KpiResult]:
        return [r for results in self.by_test.values() for r in results]

    @property
    def judged(self) -> list[KpiResult]:
        return [r for r in self.results if r.judged]

    @property
    def recorded(self) -> list[KpiResult]:
        """KPIs that component fixtures reported in tests that are not judged."""
        return [r for r in self.results if not r.judged]

    @property
    def not_run(self) -> list[KpiResult]:
        return [r for r in self.results if r.verdict == "not run"]

    def add_not_run_test(self, test_id: str, entries: Mapping[str, BaselineEntry], why: str) -> None:
        """A baseline test that did not run in this session: its KPIs are listed as `not run`."""
        from pytest_oxbot.kpi.gate import not_run

        self.by_test[test_id] = not_run(test_id, entries, why)

    def baseline(self) -> Baseline:
        """This run's judged, measured KPIs as a baseline (merged into the old one when updating)."""
        from pytest_oxbot.kpi import baseline as baseline_io
        from pytest_oxbot.kpi.catalogue import spec_for
        from pytest_oxbot.kpi.fingerprint import environment_fingerprint

        tests: dict[str, dict[str, baseline_io.BaselineEntry]] = {}
        for r in self.judged:
            if r.verdict == "missing":  # accepted as gone when updating
                tests.setdefault(r.test_id, {})
            if r.value is None:
                continue
            noisy = spec_for(r.name).noisy
            runs = (r.value,) if noisy else ()
            hosts = (r.host,) if noisy and r.host else ()
            tests.setdefault(r.test_id, {})[r.name] = baseline_io.BaselineEntry(
                r.value, r.unit, r.samples, runs, hosts=hosts
            )
        fresh = baseline_io.from_results(tests, environment_fingerprint())
        merge_into = self.outputs.merge_into
        merged = merge_into.merged(fresh, self.keep_runs) if merge_into else fresh
        merged.tests = {test_id: kpis for test_id, kpis in merged.tests.items() if kpis}
        return merged

    def _trends(self, store: str | None) -> dict[tuple[str, str], list[tuple[str, float]]] | None:
        """Each judged KPI's series in the history store (None without one: archived baselines are drawn)."""
        if store is None:
            return None
        from pytest_oxbot.kpi.history import load_history, series

        records = load_history(store)
        return {(r.test_id, r.name): series(records, r.test_id, r.name) for r in self.judged}

    def finish(self) -> list[str]:
        """Write every requested file; returns one line per file written, for the terminal."""
        written: list[str] = []
        out = self.outputs
        if out.save_baseline is not None:
            from pytest_oxbot.kpi import baseline as baseline_io

            archived = baseline_io.save(out.save_baseline, self.baseline())
            written.append(
                f"baseline saved: {out.save_baseline}" + (f" (archived {archived.name})" if archived else "")
            )
        if out.json is not None:
            from pytest_oxbot.kpi.report import json_report

            _write(out.json, json_report.render(self.results, self.meta))
            written.append(f"json report: {out.json}")
        if out.markdown is not None or (out.step_summary is not None and self.judged):
            from pytest_oxbot.kpi.report import markdown

            text = markdown.render(self.judged, header=self.header)
            if out.markdown is not None:
                _write(out.markdown, text)
                written.append(f"markdown report: {out.markdown}")
            if out.step_summary is not None and self.judged:
                with out.step_summary.open("a", encoding="utf-8") as fh:
                    fh.write(text)
                written.append("markdown appended to $GITHUB_STEP_SUMMARY")
        if out.html is not None:
            from pytest_oxbot.kpi import baseline as baseline_io
            from pytest_oxbot.kpi.report import html  # matplotlib only when asked for

            history = baseline_io.load_history(out.history_of) if out.history_of else []
            page = html.render(
                self.judged,
                header=self.header,
                history=history,
                trends=self._trends(out.history_store),
                baseline=out.compared,
            )
            _write(out.html, page)
            written.append(f"html report: {out.html}")
        if out.exports:
            from pytest_oxbot.kpi import export

            context = export.context(self.meta.get("environment"), pytest_benchmark=self.benchmarks)
            written += export.write(out.exports, self.results, context)
        return written


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def step_summary_path(environ: Mapping[str, str]) -> Path | None:
    """GitHub Actions' job summary file, when running there."""
    value = environ.get("GITHUB_STEP_SUMMARY")
    return Path(value) if value else None
