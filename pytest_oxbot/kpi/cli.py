"""`python -m pytest_oxbot.kpi compare OLD NEW`: judge one saved baseline against another, outside pytest.

It reuses the gate's own comparison and table, so a CI job can diff two artifacts exactly as the plugin
would have judged them. `python -m pytest_oxbot.kpi export FORMAT INPUT OUTPUT` writes a baseline or a JSON
report in another tool's format, with the plugin's own exporters.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_oxbot.errors import KpiUsageError, OxbotError
from pytest_oxbot.kpi import baseline as baseline_io
from pytest_oxbot.kpi.compare import ComparePolicy
from pytest_oxbot.kpi.fingerprint import differences
from pytest_oxbot.kpi.gate import KpiResult, Measurement, judge
from pytest_oxbot.kpi.report import markdown
from pytest_oxbot.kpi.report.table import render_text, summary_line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pytest_oxbot.kpi", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser("compare", help="judge CURRENT against BASELINE (exit 1 on a failing KPI)")
    cmp.add_argument("baseline", type=Path)
    cmp.add_argument("current", type=Path)
    cmp.add_argument("--min-effect", type=float, default=ComparePolicy().min_effect)
    cmp.add_argument("--alpha", type=float, default=ComparePolicy().alpha)
    cmp.add_argument("--max-spread", type=float, default=ComparePolicy().max_spread)
    cmp.add_argument("--no-targets", action="store_true", help="judge against the baseline only")
    cmp.add_argument("--markdown", type=Path, help="also write the Markdown summary here")
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


def export_file(fmt: str, source: Path, output: Path) -> list[str]:
    """Export `source` (baseline or JSON report) as `fmt` to `output`; one line per format written."""
    from pytest_oxbot.kpi import export
    from pytest_oxbot.kpi.export.source import load_results

    spec = export.parse_spec(f"{fmt}:{output}")
    results, environment = load_results(source)
    return export.write([spec], results, export.context(environment))


def compare_files(
    old: Path, new: Path, policy: ComparePolicy, *, use_targets: bool = True
) -> tuple[list[KpiResult], list[str]]:
    """Results of every KPI in `new`, and the environment differences between the two files."""
    before, after = baseline_io.load(old), baseline_io.load(new)
    results: list[KpiResult] = []
    for test_id, kpis in sorted(after.tests.items()):
        measurements = [Measurement(name, e.value, e.samples) for name, e in kpis.items()]
        targets = {} if use_targets else {m.name: None for m in measurements}
        results += judge(
            test_id, measurements, targets=targets, baseline=before.entries(test_id), policy=policy
        )
    return results, differences(before.environment, after.environment)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "comment":
        return comment(args)
    if args.command == "export":
        try:
            print("\n".join(export_file(args.format, args.input, args.output)))
        except OxbotError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    policy = ComparePolicy(args.min_effect, args.alpha, args.max_spread)
    try:
        results, env_diff = compare_files(
            args.baseline, args.current, policy, use_targets=not args.no_targets
        )
    except KpiUsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in env_diff:
        print(f"warning: environments differ: {line}", file=sys.stderr)
    print("\n".join([*render_text(results), summary_line(results)]))
    if args.markdown:
        args.markdown.write_text(markdown.render(results), encoding="utf-8")
    return 1 if any(r.failing for r in results) else 0
