"""One way to check what a user writes: options, ini values and marker arguments.

Every option and ini value is checked in `pytest_configure`, every marker argument when the tests are
collected, and a bad one is a `pytest.UsageError` (exit code 4, before any test runs) whose message
names it: the option, the ini key, or the test and its marker. Under pytest-xdist, whose workers
collect, a usage error there would crash the controller: the test fails at setup with the same message.
Component modules register their markers with `add_marker`; `check_markers` (called from the gate's
collection hook) parses every registered marker of every collected test once and keeps the parsed value
for the fixtures (`marker_value`). An error the library raises on purpose (`OxbotError`) is the message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from pytest_oxbot.errors import OxbotError

MarkerParser = Callable[[pytest.Mark], Any]
PARSERS = pytest.StashKey[dict[str, MarkerParser]]()
PARSED = pytest.StashKey[dict[str, Any]]()
ERROR = pytest.StashKey[str]()


def usage_error(where: str, problem: object) -> pytest.UsageError:
    """`pytest-oxbot: <where>: <problem>`, the one format of every usage error."""
    return pytest.UsageError(f"pytest-oxbot: {where}: {problem}")


@contextmanager
def naming(where: str) -> Iterator[None]:
    """Turn a library error or a bad value raised in the block into a usage error naming `where`."""
    try:
        yield
    except (OxbotError, ValueError, TypeError) as exc:
        raise usage_error(where, exc) from None


def add_marker(config: pytest.Config, name: str, signature: str, parser: MarkerParser) -> None:
    """Declare marker `name` (shown by `pytest --markers`) and how to parse its arguments."""
    config.addinivalue_line("markers", f"{name}{signature}")
    config.stash.setdefault(PARSERS, {})[name] = parser


def keywords(mark: pytest.Mark, allowed: Sequence[str]) -> dict[str, Any]:
    """The marker's keyword arguments, refusing positional ones and unknown names."""
    if mark.args:
        raise TypeError(f"takes keyword arguments only ({', '.join(allowed)}), got {mark.args!r}")
    unknown = sorted(set(mark.kwargs) - set(allowed))
    if unknown:
        raise TypeError(f"unknown argument(s) {', '.join(unknown)} (known: {', '.join(allowed)})")
    return dict(mark.kwargs)


def flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return value


def check_markers(config: pytest.Config, items: Sequence[pytest.Item]) -> None:
    """Parse every registered marker of every collected test; the first bad one is a usage error.

    Runs on every collected test, so unmarked tests cost one look at their own markers and a cached
    answer for their module and class.
    """
    parsers = config.stash.get(PARSERS, {})
    if not parsers:
        return
    ancestors: dict[Any, bool] = {}  # pytest nodes (pytest exports no common base of Item and Collector)
    for item in items:
        if not any(m.name in parsers for m in item.own_markers) and not _marked(
            item.parent, parsers, ancestors
        ):
            continue
        parsed: dict[str, Any] = {}
        for name, parser in parsers.items():
            mark = item.get_closest_marker(name)
            if mark is None:
                continue
            try:
                with naming(f"{item.nodeid}: @pytest.mark.{name}"):
                    parsed[name] = parser(mark)
            except pytest.UsageError as exc:
                if not hasattr(config, "workerinput"):
                    raise
                # pytest-xdist collects in its workers, where a usage error is an internal error of the
                # controller: the test fails at setup with the same message instead.
                item.stash[ERROR] = str(exc)
        item.stash[PARSED] = parsed


def _marked(node: Any, parsers: dict[str, MarkerParser], seen: dict[Any, bool]) -> bool:
    """Whether `node` or a node above it carries one of the registered markers (cached per node)."""
    if node is None:
        return False
    known = seen.get(node)
    if known is None:
        known = any(m.name in parsers for m in node.own_markers) or _marked(node.parent, parsers, seen)
        seen[node] = known
    return known


def fail_if_invalid(item: pytest.Item) -> None:
    """Under pytest-xdist: fail a test whose marker was refused at collection (see `check_markers`)."""
    error = item.stash.get(ERROR, None)
    if error is not None:
        pytest.fail(error, pytrace=False)


def marker_value(item: pytest.Item, name: str) -> Any:
    """What the parser of marker `name` returned for this test (None: the test has no such marker)."""
    return item.stash.get(PARSED, {}).get(name)
