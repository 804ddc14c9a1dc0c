"""Peak resident memory of a block, sampled from the OS: what "the run stays under 512 MB" means.

tracemalloc would see only Python allocations and slows a run like this one ~7x (measured), which
distorts every timing taken beside it. Resident set size includes the interpreter, SQLite's and the
drivers' C memory: the figure an OOM killer or a container limit acts on. Linux: `/proc/self/statm`
sampled every few milliseconds by a daemon thread; elsewhere the process's lifetime peak
(`getrusage`), an upper bound.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from pathlib import Path
from types import TracebackType

_STATM = Path("/proc/self/statm")


def current_rss_bytes() -> int | None:
    """Resident memory now (Linux), or None where /proc is not available."""
    try:
        resident_pages = int(_STATM.read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def lifetime_peak_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, Linux KiB


class PeakRss:
    """`with PeakRss() as peak: ...` then `peak.megabytes` (MiB)."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while True:
            rss = current_rss_bytes()
            if rss is not None:
                self.peak_bytes = max(self.peak_bytes, rss)
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> PeakRss:
        if current_rss_bytes() is None:
            return self
        self._thread = threading.Thread(target=self._sample, name="oxbot-peak-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._thread is None:
            self.peak_bytes = lifetime_peak_bytes()
            return
        self._stop.set()
        self._thread.join()
        final = current_rss_bytes()
        self.peak_bytes = max(self.peak_bytes, final or 0)

    @property
    def megabytes(self) -> float:
        return self.peak_bytes / 2**20
