"""The default history store: one JSON line per run, newest last, at most `max_runs` lines.

Appending is an `O_APPEND` write of one line; once the file holds more than `max_runs` lines it is
rewritten with the newest `max_runs` (a temporary file renamed over it, so a crash never leaves half a
history). Lines that are not records (a bad merge, a truncated write) are reported with `file:line`
and skipped when reading leniently, raised when reading strictly; trimming keeps them as they are.
A history committed to git merges cleanly with `.oxbot/history.jsonl merge=union` in `.gitattributes`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pytest_oxbot._json import strict_loads
from pytest_oxbot.kpi.history.record import HistoryError, RunRecord


class JsonlStore:
    def __init__(self, path: Path, max_runs: int) -> None:
        if max_runs < 1:
            raise HistoryError(f"history {path}: max_runs must be at least 1, not {max_runs}")
        self.path = path
        self.max_runs = max_runs

    def __repr__(self) -> str:
        return f"JsonlStore({str(self.path)!r}, max_runs={self.max_runs})"

    @property
    def where(self) -> str:
        return str(self.path)

    def append(self, record: RunRecord) -> int:
        """Add `record`; returns how many older runs retention dropped."""
        line = json.dumps(record.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
            lines = self._lines()
            if len(lines) <= self.max_runs:
                return 0
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text("".join(f"{text}\n" for text in lines[-self.max_runs :]), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            raise HistoryError(f"history {self.path} cannot be written: {exc}") from None
        return len(lines) - self.max_runs

    def _lines(self) -> list[str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise HistoryError(f"history {self.path} cannot be read: {exc}") from None
        return [line for line in text.splitlines() if line.strip()]

    def read(self, *, strict: bool = False) -> tuple[list[RunRecord], list[str]]:
        """Records oldest first, and one problem per unreadable line ("path:7: not JSON (...)")."""
        if not self.path.is_file():
            raise HistoryError(f"history {self.path} does not exist (record runs with --oxbot-history)")
        records: list[RunRecord] = []
        problems: list[str] = []
        text = self._read_text()
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(RunRecord.from_dict(strict_loads(line)))
            except ValueError as exc:  # not JSON, NaN/Infinity, too deep, or not a record
                problems.append(f"{self.path}:{number}: {exc}")
        if strict and problems:
            raise HistoryError(
                problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            )
        return records, problems

    def _read_text(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise HistoryError(f"history {self.path} cannot be read: {exc}") from None
