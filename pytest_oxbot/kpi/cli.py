"""`python -m pytest_oxbot.kpi`: the gate outside pytest.

* `compare OLD NEW`: judge NEW against OLD exactly as the plugin would. Each side may be a baseline, the
  plugin's JSON report (`--oxbot-json`) or a history file (its last record, or `--record SHA`).
* `history`: each KPI's trend over the recorded runs (table and sparkline), with change points and slow
  drifts flagged (`--fail-on-change` exits 1 when something is).
* `export FORMAT INPUT OUTPUT`: a baseline, JSON report or history file in another tool's format, with the
  plugin's own exporters.
* `comment github|gitlab REPORT`: the one KPI comment of a pull/merge request, edited on later runs.

Exit codes: 0 fine, 1 a failing KPI (compare) or a flagged trend (history with `--fail-on-change`),
2 a file or argument that cannot be used (one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_oxbot.errors import OxbotError
from pytest_oxbot.kpi.compare import ComparePolicy
from pytest_oxbot.kpi.errors import BaselineError
from pytest_oxbot.kpi.fingerprint import differences
from pytest_oxbot.kpi.gate import KpiResult, Measurement, judge
from pytest_oxbot.kpi.report import markdown
from pytest_oxbot.kpi.report.table import render_text, summary_line
from pytest_oxbot.kpi.sources import load_source

DEFAULT_HISTORY = ".oxbot/history.jsonl"  # = history.DEFAULT_PATH, kept here so --help imports nothing


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_oxbot.kpi",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser(
        "compare",
        help="judge NEW against OLD (baselines, JSON reports or history files; exit 1 on a failing KPI)",
    )
    cmp.add_argument("baseline", type=Path, metavar="OLD")
    cmp.add_argument("current", type=Path, metavar="NEW")
    cmp.add_argument("--record", metavar="SHA", help="the history record of this commit (either side)")
    cmp.add_argument("--old-record", metavar="SHA", help="the history record of this commit on the OLD side")
    cmp.add_argument("--new-record", metavar="SHA", help="the history record of this commit on the NEW side")
    cmp.add_argument("--min-effect", type=float, default=ComparePolicy().min_effect)
    cmp.add_argument("--alpha", type=float, default=ComparePolicy().alpha)
    cmp.add_argument("--max-spread", type=float, default=ComparePolicy().max_spread)
    cmp.add_argument("--no-targets", action="store_true", help="judge against the baseline only")
    cmp.add_argument("--markdown", type=Path, help="also write the Markdown summary here")
    hist = sub.add_parser("history", help="each KPI's trend over commits, with change points and drifts")
    hist.add_argument(
        "--history",
        default=DEFAULT_HISTORY,
        metavar="PATH|URL",
        help=f"JSONL file or SQL URL ({DEFAULT_HISTORY})",
    )
    hist.add_argument("--kpi", metavar="NAME", help="only this KPI")
    hist.add_argument("--test", metavar="SUBSTR", help="only tests whose id contains this")
    hist.add_argument("--since", metavar="DATE|SHA", help="runs from this date (2026-11-30) or commit on")
    hist.add_argument("--branch", metavar="NAME", help="only runs on this branch")
    hist.add_argument("--rows", type=int, default=20, help="table rows per KPI (the newest; default 20)")
    hist.add_argument("--min-effect", type=float, default=0.02, help="smallest change flagged (0.02 = 2%%)")
    hist.add_argument(
        "--fail-on-change", action="store_true", help="exit 1 when a change point or drift is flagged"
    )
    exp = sub.add_parser("export", help="write INPUT (a baseline or a JSON report) as FORMAT to OUTPUT")
    exp.add_argument("format", help="bmf, github-action-benchmark, openmetrics or pytest-benchmark")
    exp.add_argument("input", type=Path)
    exp.add_argument("output", type=Path)
    com = sub.add_parser(
        "comment",
        help="post REPORT (Markdown) as the one KPI comment of a pull/merge request, edited on later runs",
        description="Reads the forge's CI variables: GitHub Actions' GITHUB_API_URL, GITHUB_REPOSITORY, "
        "GITHUB_REF and the token in GITHUB_TOKEN; GitLab CI's CI_API_V4_URL, CI_PROJECT_ID, "
        "CI_MERGE_REQUEST_IID and the token in GITLAB_TOKEN. The token is read from the environment only "
        "(never an argument: arguments show in process lists and logs).",
    )
    com.add_argument("provider", choices=["github", "gitlab"])
    com.add_argument("report", type=Path, help="the Markdown report (--oxbot-markdown)")
    com.add_argument(
        "--number", type=int, help="the pull/merge request number (default: from the CI variables)"
    )
    com.add_argument(
        "--token-var", default="", metavar="NAME", help="the variable holding the token (default: see above)"
    )
    return parser


def compare_files(
    old: Path,
    new: Path,
    policy: ComparePolicy,
    *,
    use_targets: bool = True,
    old_record: str | None = None,
    new_record: str | None = None,
    record: str | None = None,
) -> tuple[list[KpiResult], list[str]]:
    """Results of every KPI in `new`, and the environment differences between the two files.

    `old_record`/`new_record` pick a history record on one side; `record` on every side that is a history.
    """
    first = load_source(old, record=old_record or record, lenient=old_record is None)
    second = load_source(new, record=new_record or record, lenient=new_record is None)
    if record is not None and "history" not in (first.kind, second.kind):
        raise BaselineError(f"--record {record!r} applies to history files; neither {old} nor {new} is one")
    before, after = first.baseline, second.baseline
    results: list[KpiResult] = []
    for test_id, kpis in sorted(after.tests.items()):
        measurements = [
            Measurement(name, e.value, e.samples, host=e.hosts[-1] if e.hosts else None)
            for name, e in kpis.items()
        ]
        targets = {} if use_targets else {m.name: None for m in measurements}
        results += judge(
            test_id, measurements, targets=targets, baseline=before.entries(test_id), policy=policy
        )
    return results, differences(before.environment, after.environment)


def _compare(args: argparse.Namespace) -> int:
    policy = ComparePolicy(args.min_effect, args.alpha, args.max_spread)
    results, env_diff = compare_files(
        args.baseline,
        args.current,
        policy,
        use_targets=not args.no_targets,
        old_record=args.old_record,
        new_record=args.new_record,
        record=args.record,
    )
    for line in env_diff:
        print(f"warning: environments differ: {line}", file=sys.stderr)
    print("\n".join([*render_text(results), summary_line(results)]))
    if args.markdown:
        args.markdown.write_text(markdown.render(results), encoding="utf-8")
    return 1 if any(r.failing for r in results) else 0


def _history(args: argparse.Namespace) -> int:
    from pytest_oxbot.kpi.history import open_store
    from pytest_oxbot.kpi.history.render import Query, collect, render, select, summary
    from pytest_oxbot.kpi.history.trend import TrendPolicy

    store = open_store(args.history)
    records, problems = store.read()
    for problem in problems:
        print(f"warning: skipped {problem}", file=sys.stderr)
    query = Query(args.kpi, args.test, args.since, args.branch)
    chosen = select(records, query)
    policy = TrendPolicy(min_effect=args.min_effect)
    found = collect(chosen, query, policy)
    for item in found:
        print("\n".join(render(item, max(args.rows, 1), policy)))
        print()
    print(summary(found, len(chosen), store.where))
    return 1 if args.fail_on_change and any(s.trend.flagged for s in found) else 0


def _export(args: argparse.Namespace) -> int:
    from pytest_oxbot.kpi import export
    from pytest_oxbot.kpi.export.source import load_results

    spec = export.parse_spec(f"{args.format}:{args.output}")
    results, environment = load_results(args.input)
    print("\n".join(export.write([spec], results, export.context(environment))))
    return 0


def comment(args: argparse.Namespace) -> int:
    """`comment`: create or edit the request's KPI comment; one line on success or failure."""
    from pytest_oxbot.kpi.comment import CommentTarget, upsert

    try:
        target = CommentTarget.from_env(
            args.provider, os.environ, number=args.number, token_var=args.token_var
        )
        text = args.report.read_text(encoding="utf-8")
        print(f"{upsert(target, text)} the KPI comment on {target.provider} request #{target.number}")
    except (OxbotError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "comment":
        return comment(args)
    commands = {"compare": _compare, "history": _history, "export": _export}
    try:
        return commands[args.command](args)
    except OxbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
