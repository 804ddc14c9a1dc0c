"""Baseline files: stable, sorted, reviewable JSON meant to be committed, plus an archive for history.

Layout (`pytest-oxbot-baseline/3`):
`{"format": ..., "environment": {...}, "tests": {test_id: {kpi: {"unit", "value", "samples", "runs"}}}}`
with sorted keys, two-space indent and values rounded to 9 significant digits, so re-saving unchanged
results gives an unchanged file. `samples` are the measurements of the last run (wall-clock KPIs), on
one line: `{"n", "min", "median", "max", "mad", "kept"}`, a summary of all of them and at most 50
weighted values (`x` or `[x, count]`, see `samples.py`) that stand for them; `runs` are the values of the
last few runs of a wall-clock KPI, oldest first (`value` is the newest), so a timing is judged against
the spread between runs rather than within one; `hosts` (optional, one per run) the environment each run
was measured in (`fingerprint.environment_key`), so a run is judged only against runs of the same
interpreter build on the same kind of machine.
Version 1 and 2 files (samples as a plain list; version 1 without `runs`, read as one run each) are read
too. Any problem reading one is a `BaselineError` naming the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from pytest_oxbot._json import is_finite_number, strict_loads
from pytest_oxbot.kpi.catalogue import canonical_name
from pytest_oxbot.kpi.errors import BaselineError
from pytest_oxbot.kpi.samples import DEFAULT_CAP, SampleSummary, compact, expand, rounded, summarise

FORMAT = "pytest-oxbot-baseline/3"
READABLE = ("pytest-oxbot-baseline/1", "pytest-oxbot-baseline/2", FORMAT)
DEFAULT_RUNS_KEPT = 5


class BaselineEntry(NamedTuple):
    """One KPI of one test as saved; `summary` describes the samples as measured (None: from `samples`)."""

    value: float
    unit: str = ""
    samples: tuple[float, ...] = ()
    runs: tuple[float, ...] = ()
    summary: SampleSummary | None = None
    hosts: tuple[str, ...] = ()  # the environment key of each run (aligned with `runs`; "" unknown)


class Baseline:
    """All saved KPIs by test id, with the environment they were measured in."""

    __slots__ = ("environment", "saved_at", "tests")

    def __init__(
        self,
        environment: dict[str, str] | None = None,
        tests: dict[str, dict[str, BaselineEntry]] | None = None,
        saved_at: str = "",
    ) -> None:
        self.environment = environment if environment is not None else {}
        self.tests = tests if tests is not None else {}
        self.saved_at = saved_at

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Baseline):
            return NotImplemented
        return (self.environment, self.tests, self.saved_at) == (
            other.environment,
            other.tests,
            other.saved_at,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Baseline({len(self.tests)} tests, saved_at={self.saved_at!r})"

    def entries(self, test_id: str) -> dict[str, BaselineEntry]:
        return self.tests.get(test_id, {})

    def merged(self, newer: Baseline, keep_runs: int = DEFAULT_RUNS_KEPT) -> Baseline:
        """This baseline with `newer`'s tests replacing ours (tests not re-run are kept).

        A KPI that keeps runs (a wall-clock one) appends the newer run to ours, keeping the last
        `keep_runs`, so repeated updates build the between-run spread the comparison needs.
        """
        tests = dict(self.tests)
        for test_id, kpis in newer.tests.items():
            old = self.tests.get(test_id, {})
            tests[test_id] = {name: _append_run(old.get(name), e, keep_runs) for name, e in kpis.items()}
        return Baseline(newer.environment or self.environment, tests, newer.saved_at)


def _append_run(old: BaselineEntry | None, new: BaselineEntry, keep: int) -> BaselineEntry:
    """Runs accumulate with their environment; runs saved before environments were kept are unknown ("")."""
    if old is None or not new.runs or old.unit != new.unit:
        return new
    previous = old.runs or (old.value,)
    if not new.hosts and not old.hosts:
        return new._replace(runs=(*previous, *new.runs)[-keep:])
    old_hosts = old.hosts if len(old.hosts) == len(previous) else ("",) * len(previous)
    new_hosts = new.hosts if len(new.hosts) == len(new.runs) else ("",) * len(new.runs)
    return new._replace(runs=(*previous, *new.runs)[-keep:], hosts=(*old_hosts, *new_hosts)[-keep:])


def _round(value: float) -> float:
    return rounded(value, 9)


def _samples_json(e: BaselineEntry, cap: int) -> dict[str, Any]:
    """The one-line samples object: summary of all samples, then at most `cap` weighted values."""
    summary = e.summary if e.summary is not None and e.summary.n == len(e.samples) else summarise(e.samples)
    kept = [value if count == 1 else [value, count] for value, count in compact(e.samples, cap)]
    return {**summary._asdict(), "kept": kept}


def to_json(baseline: Baseline, *, keep_samples: int = DEFAULT_CAP) -> str:
    """The committed text: deterministic for the same values; samples capped at `keep_samples` values."""
    inline: dict[str, str] = {}  # placeholder -> compact JSON, so samples and runs read on one line each

    def one_line(value: Any) -> str:
        marker = f"@inline{len(inline)}@"
        inline[json.dumps(marker)] = json.dumps(value, ensure_ascii=False)
        return marker

    tests = {
        test_id: {
            name: {
                "unit": e.unit,
                "value": _round(e.value),
                **({"samples": one_line(_samples_json(e, keep_samples))} if e.samples else {}),
                **({"runs": one_line([_round(r) for r in e.runs])} if e.runs else {}),
                **({"hosts": one_line(list(e.hosts))} if e.hosts else {}),
            }
            for name, e in sorted(kpis.items())
        }
        for test_id, kpis in sorted(baseline.tests.items())
    }
    document = {"format": FORMAT, "environment": dict(sorted(baseline.environment.items())), "tests": tests}
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    if inline:
        text = re.sub('"@inline[0-9]+@"', lambda m: inline[m.group(0)], text)
    return text + "\n"


def from_json(text: str, source: str = "<baseline>") -> Baseline:
    """Parse and validate a baseline document."""
    try:
        data = strict_loads(text)
    except ValueError as exc:  # NaN, Infinity, 1e400, deep nesting: never "improved", never INTERNALERROR
        raise BaselineError(f"baseline {source} is corrupt: {exc}") from None
    if not isinstance(data, dict) or data.get("format") not in READABLE:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise BaselineError(
            f"baseline {source} is not a pytest-oxbot baseline (format: {found!r}; this version reads "
            f"{' and '.join(READABLE)}; re-record it with --oxbot-save-baseline)"
        )
    env = data.get("environment", {})
    tests = data.get("tests")
    if not isinstance(env, dict) or not isinstance(tests, dict):
        raise BaselineError(f"baseline {source} is corrupt: 'environment' and 'tests' must be objects")
    parsed: dict[str, dict[str, BaselineEntry]] = {}
    for test_id, kpis in tests.items():
        if not isinstance(kpis, dict):
            raise BaselineError(f"baseline {source} is corrupt at {test_id!r}: expected an object of KPIs")
        parsed[test_id] = {
            canonical_name(name): _entry(raw, source, test_id, name) for name, raw in kpis.items()
        }
    return Baseline({str(k): str(v) for k, v in env.items()}, parsed, str(data.get("saved_at", "")))


def _entry(raw: Any, source: str, test_id: str, name: str) -> BaselineEntry:
    try:
        value = raw["value"]
        if not _is_number(value):
            raise TypeError("value")
        runs = raw.get("runs", [])
        if not isinstance(runs, list) or not all(_is_number(r) for r in runs):
            raise TypeError("runs")
        hosts = raw.get("hosts", [])
        if not isinstance(hosts, list) or not all(isinstance(h, str) and len(h) <= 200 for h in hosts):
            raise TypeError("hosts (one environment key string per run)")
        if hosts and len(hosts) != len(runs):
            raise TypeError(f"hosts: {len(hosts)} for {len(runs)} runs")
        samples, summary = _samples(raw.get("samples", []))
        return BaselineEntry(
            float(value),
            str(raw.get("unit", "")),
            samples,
            tuple(map(float, runs)),
            summary,
            tuple(hosts),
        )
    except (TypeError, KeyError, AttributeError) as exc:
        raise BaselineError(f"baseline {source} is corrupt at {test_id!r} / {name!r}: bad {exc}") from None


def _is_number(value: Any) -> bool:
    return is_finite_number(value)


def _samples(raw: Any) -> tuple[tuple[float, ...], SampleSummary | None]:
    """A plain list (formats 1 and 2) or the summary with weighted values (format 3)."""
    if isinstance(raw, list):
        if not all(_is_number(s) for s in raw):
            raise TypeError("samples")
        return tuple(float(s) for s in raw), None
    if not isinstance(raw, dict) or not isinstance(raw.get("kept"), list):
        raise TypeError("samples")
    pairs: list[tuple[float, int]] = []
    for item in raw["kept"]:
        if _is_number(item):
            pairs.append((float(item), 1))
        elif _pair(item):
            pairs.append((float(item[0]), int(item[1])))
        else:
            raise TypeError("samples: kept values are numbers or [number, count] pairs")
    fields: list[Any] = [raw.get(k) for k in SampleSummary._fields]
    if not all(_is_number(f) for f in fields) or not isinstance(fields[0], int):
        raise TypeError(f"samples: summary needs numbers {', '.join(SampleSummary._fields)}")
    samples = expand(pairs)
    if len(samples) != fields[0]:
        raise TypeError(f"samples: the kept counts add up to {len(samples)}, n is {fields[0]}")
    return samples, SampleSummary(int(fields[0]), *(float(f) for f in fields[1:]))


def _pair(item: Any) -> bool:
    return (
        isinstance(item, list)
        and len(item) == 2
        and _is_number(item[0])
        and isinstance(item[1], int)
        and not isinstance(item[1], bool)
        and item[1] >= 1
    )


def load(path: Path) -> Baseline:
    """Read a baseline; missing or corrupt files raise `BaselineError` with the path."""
    if not path.is_file():
        raise BaselineError(f"baseline {path} does not exist (save one with --oxbot-save-baseline)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline {path} cannot be read: {exc}") from None
    return from_json(text, str(path))


def save(
    path: Path, baseline: Baseline, *, archive: bool = True, keep_samples: int = DEFAULT_CAP
) -> Path | None:
    """Write `path` atomically and, with `archive`, a timestamped copy under `history/` beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = to_json(baseline, keep_samples=keep_samples)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    if not archive:
        return None
    stamp = baseline.saved_at or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    copy = history_dir(path) / f"{path.stem}-{stamp}.json"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(text, encoding="utf-8")
    return copy


def history_dir(path: Path) -> Path:
    return path.parent / "history"


_STAMP = r"-(\d{8}T\d{6}Z)\.json$"


def load_history(path: Path) -> list[tuple[str, Baseline]]:
    """Archived baselines beside `path`, oldest first, as (timestamp, baseline); unreadable ones skipped."""
    found = []
    directory = history_dir(path)
    if not directory.is_dir():
        return []
    for file in sorted(directory.glob(f"{path.stem}-*.json")):
        match = re.search(_STAMP, file.name)
        if match is None:
            continue
        try:
            found.append((match.group(1), load(file)))
        except BaselineError:
            continue
    return found


def from_results(
    results: Mapping[str, Mapping[str, BaselineEntry]], environment: Mapping[str, str]
) -> Baseline:
    """Build a baseline from `{test_id: {kpi: entry}}`."""
    return Baseline(dict(environment), {test_id: dict(kpis) for test_id, kpis in results.items()})
