"""What the compare CLI reads: a baseline, the plugin's JSON report or a history file, told by content.

All three become a `Baseline`, so one comparison judges any pair. A JSON report contributes each measured
KPI (wall-clock ones as one run, as `--oxbot-save-baseline` would save them). A history file contributes
its last record, or the newest record of `--record SHA`; its wall-clock KPIs carry as runs the values of
the last `runs` records up to that one, so they are judged against the spread between runs.
Anything else is a `BaselineError` in one line naming the file and what was found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NamedTuple

from pytest_oxbot._json import is_finite_number, strict_loads
from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi import baseline as baseline_io
from pytest_oxbot.kpi.baseline import Baseline, BaselineEntry
from pytest_oxbot.kpi.catalogue import canonical_name, spec_for
from pytest_oxbot.kpi.errors import BaselineError

REPORT_PREFIX = "pytest-oxbot-report/"
Kind = Literal["baseline", "report", "history"]


class Source(NamedTuple):
    kind: Kind
    baseline: Baseline
    label: str  # what was read, for messages ("history record abc1234 on main")
    problems: tuple[str, ...] = ()  # unreadable history lines, skipped


def _noisy(name: str) -> bool:
    try:
        return spec_for(name).noisy
    except KpiUsageError:
        return False


def _not_ours(path: Path, found: str) -> BaselineError:
    return BaselineError(f"{path} is not a pytest-oxbot baseline, JSON report or history file ({found})")


def load_source(
    path: Path, *, record: str | None = None, lenient: bool = False, runs: int = baseline_io.DEFAULT_RUNS_KEPT
) -> Source:
    """Read `path` as whichever of the three it is; `record` (a SHA prefix) picks a history record
    (an error for the other kinds, unless `lenient`: then it is ignored for them)."""
    if not path.is_file():
        raise BaselineError(f"{path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path} cannot be read: {exc}") from None
    try:
        document: Any = strict_loads(text)
    except ValueError as exc:
        document = _first_json_line(text)  # JSON Lines: a history (a bad line or two is skipped later)
        if document is None:
            raise _not_ours(path, str(exc)) from None
    kind = _kind(document)
    if kind is None:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise _not_ours(path, f"format {found!r}")
    if record is not None and kind != "history" and not lenient:
        raise BaselineError(f"--record {record!r} applies to history files; {path} is a {kind}")
    if kind == "baseline":
        return Source(kind, baseline_io.from_json(text, str(path)), f"baseline {path}")
    if kind == "report":
        return Source(kind, _from_report(document, path), f"JSON report {path}")
    return _from_history(path, record, runs)


def _first_json_line(text: str, tries: int = 5) -> Any:
    """The first of the first `tries` non-empty lines that is JSON (None: none is)."""
    lines = [line for line in text.splitlines() if line.strip()][:tries]
    for line in lines:
        try:
            return strict_loads(line)
        except ValueError:
            continue
    return None


def _kind(document: Any) -> Kind | None:
    from pytest_oxbot.kpi.history.record import FORMAT as HISTORY

    fmt = document.get("format") if isinstance(document, dict) else None
    if not isinstance(fmt, str):
        return None
    if fmt in baseline_io.READABLE:
        return "baseline"
    if fmt.startswith(REPORT_PREFIX):
        return "report"
    return "history" if fmt == HISTORY else None


def _from_report(document: dict[str, Any], path: Path) -> Baseline:
    results = document.get("results")
    env = document.get("environment") or {}
    if not isinstance(results, list) or not isinstance(env, dict):
        raise BaselineError(f"JSON report {path} is corrupt: 'results' must be a list")
    tests: dict[str, dict[str, BaselineEntry]] = {}
    for item in results:
        value = item.get("value") if isinstance(item, dict) else None
        if value is None:  # missing / not run: nothing measured
            continue
        try:
            if not is_finite_number(value) or not all(map(is_finite_number, item.get("samples") or ())):
                raise ValueError("'value' and 'samples' must be finite numbers")
            name = canonical_name(str(item["name"]))
            samples = tuple(float(s) for s in item.get("samples") or ())
            host = item.get("host")
            if host is not None and not isinstance(host, str):
                raise ValueError("'host' must be a string")
            entry = BaselineEntry(float(value), str(item.get("unit", "")), samples)
            noisy = _noisy(name)
            tests.setdefault(str(item["test_id"]), {})[name] = entry._replace(
                runs=(entry.value,) if noisy else (),
                hosts=(host,) if noisy and host else (),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"JSON report {path} is corrupt at {item!r:.80}: {exc}") from None
    return Baseline({str(k): str(v) for k, v in env.items()}, tests)


def _from_history(path: Path, record: str | None, keep: int) -> Source:
    from pytest_oxbot.kpi.history.jsonl import JsonlStore

    records, problems = JsonlStore(path, max_runs=1).read()
    if not records:
        raise BaselineError(f"history {path} holds no readable record")
    if record is None:
        index = len(records) - 1
    else:
        matches = [i for i, r in enumerate(records) if r.commit and r.commit.startswith(record)]
        if not matches:
            raise BaselineError(f"history {path} holds no record of commit {record!r}")
        index = matches[-1]
    chosen = records[index]
    tests: dict[str, dict[str, BaselineEntry]] = {}
    for test_id, kpis in chosen.tests.items():
        for name, point in kpis.items():
            runs: tuple[float, ...] = ()
            if _noisy(name):
                earlier = [r.tests.get(test_id, {}).get(name) for r in records[: index + 1]]
                runs = tuple(p.value for p in earlier if p is not None)[-keep:]
            tests.setdefault(test_id, {})[name] = BaselineEntry(point.value, point.unit, (), runs)
    where = f" on {chosen.branch}" if chosen.branch else ""
    label = f"history record {chosen.short_sha}{where} ({chosen.timestamp}) from {path}"
    return Source("history", Baseline(dict(chosen.environment), tests), label, tuple(problems))
