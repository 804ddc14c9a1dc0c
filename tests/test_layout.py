"""The installed package's boundaries, checked on its source: what a module may import and where the
environment may be read.

- Every module of `pytest_oxbot` imports on its own, in a fresh interpreter, without the reference bot
  (`benchmarks.reference_bot` is example code beside the benchmarks, not part of what users install).
- Only the edges read the environment or the global settings: the pytest plugin (`plugin.py`,
  `_plugin/`), the CLIs (`__main__.py`, `cli.py`), `settings.py` itself and functions named `from_env`.
  Library constructors take explicit arguments, so an explicit argument always wins.
- Every error class the package defines derives from `OxbotError`.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_oxbot

PACKAGE = Path(pytest_oxbot.__file__).parent
EDGE_MODULES = {"settings.py", "plugin.py", "__main__.py", "cli.py"}
PLUMBING = {
    # A counted child process inherits PATH (to find valgrind's tools) and HOME, nothing else: process
    # plumbing, not configuration (the counts must not depend on the caller's environment).
    "child_environment",
}
ENVIRONMENT_READS = {"environ", "getenv", "getenvb", "environb", "putenv", "unsetenv"}
SETTINGS_READS = {"from_env", "load_settings", "Settings"}


def _modules() -> list[str]:
    """Every module of the package but the `__main__` entry points (importing one runs its CLI)."""
    found = ["pytest_oxbot"]
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="pytest_oxbot."):
        if not info.name.endswith(".__main__"):
            found.append(info.name)
    return sorted(found)


def _is_edge(path: Path) -> bool:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] == "_plugin" or path.name in EDGE_MODULES


def test_every_module_imports_alone_without_the_reference_bot() -> None:
    modules = _modules()
    assert len(modules) > 40  # the walk found the package, not an empty directory
    script = (
        "import importlib, json, sys\n"
        f"failed = {{}}\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed[name] = f'{type(exc).__name__}: {exc}'\n"
        "bot = sorted(m for m in sys.modules if m == 'benchmarks' or m.startswith('benchmarks.'))\n"
        "print(json.dumps({'failed': failed, 'bot': bot}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd="/", timeout=300
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failed"] == {}
    assert result["bot"] == []


def test_no_package_module_imports_the_benchmarks() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(PACKAGE)}: {n}" for n in names if n.split(".")[0] == "benchmarks"
            ]
    assert offenders == []


class _AmbientReads(ast.NodeVisitor):
    """Collects reads of the environment or the settings outside `from_env` functions."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []
        self._in_from_env = 0

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        edge = node.name == "from_env" or node.name in PLUMBING
        self._in_from_env += edge
        self.generic_visit(node)
        self._in_from_env -= edge

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and node.value.id == "os" and node.attr in ENVIRONMENT_READS:
            self._flag(node.lineno, f"os.{node.attr}")
        if node.attr in SETTINGS_READS - {"Settings"}:
            self._flag(node.lineno, node.attr)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in SETTINGS_READS:
            self._flag(node.lineno, node.id)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "os" and any(a.name in ENVIRONMENT_READS for a in node.names):
            self._flag(node.lineno, "from os import environ")
        if node.module == "pytest_oxbot.settings" and not self._in_from_env:
            self._flag(node.lineno, "imports pytest_oxbot.settings")

    def _flag(self, line: int, what: str) -> None:
        if not self._in_from_env:
            self.found.append((line, what))


def test_only_the_edges_read_the_environment_or_the_settings() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if _is_edge(path):
            continue
        tree = ast.parse(path.read_text("utf-8"))
        visitor = _AmbientReads()
        for node in tree.body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue  # annotations only
            visitor.visit(node)
        offenders += [f"{path.relative_to(PACKAGE)}:{line}: {what}" for line, what in visitor.found]
    assert offenders == []


def test_the_check_would_catch_an_ambient_read(tmp_path: Path) -> None:
    source = (
        "import os\n"
        "from pytest_oxbot.settings import Settings\n"
        "def f():\n    return os.environ.get('X'), Settings.from_env()\n"
        "def from_env():\n    return os.environ['Y']\n"
    )
    visitor = _AmbientReads()
    visitor.visit(ast.parse(source))
    found = sorted(what for _, what in visitor.found)
    assert found == ["Settings", "from_env", "imports pytest_oxbot.settings", "os.environ"]


def test_every_error_the_package_defines_derives_from_the_root() -> None:
    from pytest_oxbot.errors import OxbotError

    rogue = []
    for name in _modules():
        module = sys.modules.get(name) or pytest.importorskip(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and not value.__name__.startswith("_")  # private control flow, never raised to callers
                and not issubclass(value, OxbotError)
                and not issubclass(value, Warning)
            ):
                rogue.append(f"{name}.{value.__name__}")
    assert rogue == []
