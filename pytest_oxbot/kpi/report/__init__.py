"""Reports of a gated session: terminal table, JSON, Markdown (pull-request comment) and HTML."""

from __future__ import annotations

from pathlib import Path


def display_path(path: Path, root: Path) -> str:
    """`path` as a report shows it: relative to the project's root, else its name; never the local
    absolute path (reports are posted to pull requests and uploaded as artifacts)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name
