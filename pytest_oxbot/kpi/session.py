"""What a gated session keeps and writes: all results, the baseline to save, the report files.

Pure library code: the plugin feeds it results (from its own tests or from xdist workers' reports) and
calls `finish()` once on the controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Baselines and reports are imported when the session ends, and only those that are asked for: the
# pytest plugin builds a GateSession in every run.
if TYPE_CHECKING:
    from pytest_oxbot.kpi.baseline import Baseline
    from pytest_oxbot.kpi.gate import KpiResult


@dataclass
class Outputs:
    """Where this session writes (None: not asked for)."""

    save_baseline: Path | None = None
    merge_into: Baseline | None = None
    json: Path | None = None
    markdown: Path | None = None
    html: Path | None = None
    step_summary: Path | None = None
    history_of: Path | None = None


@dataclass
class GateSession:
    """Results of one session, in arrival order, and what to write at its end."""

    outputs: Outputs = field(default_factory=Outputs)
    header: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    results: list[KpiResult] = field(default_factory=list)

    def add(self, results: Iterable[KpiResult]) -> None:
        self.results.extend(results)

    @property
    def judged(self) -> list[KpiResult]:
        return [r for r in self.results if r.judged]

    def baseline(self) -> Baseline:
        """This run's judged KPIs as a baseline (merged into the old one when updating)."""
        from pytest_oxbot.kpi import baseline as baseline_io
        from pytest_oxbot.kpi.fingerprint import environment_fingerprint

        tests: dict[str, dict[str, tuple[float, str, tuple[float, ...]]]] = {}
        for r in self.judged:
            tests.setdefault(r.test_id, {})[r.name] = (r.value, r.unit, r.samples)
        fresh = baseline_io.from_results(tests, environment_fingerprint())
        return self.outputs.merge_into.merged(fresh) if self.outputs.merge_into else fresh

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
            _write(out.html, html.render(self.judged, header=self.header, history=history))
            written.append(f"html report: {out.html}")
        return written


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def step_summary_path(environ: Mapping[str, str]) -> Path | None:
    """GitHub Actions' job summary file, when running there."""
    value = environ.get("GITHUB_STEP_SUMMARY")
    return Path(value) if value else None
