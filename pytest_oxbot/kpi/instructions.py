"""Count the CPU instructions a call executes: a deterministic KPI, whatever the machine's load.

The call runs in a child process under valgrind's callgrind, started with instrumentation off. The child
(`pytest_oxbot._instructions_child`, outside the `kpi` package so that the
child imports nothing of the gate) imports the function **by name** (its module, re-imported from
the same file, and its qualified name), runs the optional `setup` and the warm-up calls uncounted, then
switches instrumentation on with valgrind client requests only around the measured calls, so interpreter
start-up, imports and set-up cost nothing and need no subtraction. An empty instrumented region is
measured the same way and subtracted, so the count is that of the calls alone.

Nothing but names crosses the process boundary: the arguments must be JSON values (str, int, float,
bool, None, lists, dicts), never pickles. Build anything richer in a `setup` function (also importable
by name) whose return value is passed to the measured function.

What keeps counts still: a fixed PYTHONHASHSEED and a fixed, minimal environment; address-space
randomisation off (`setarch -R`, where the kernel allows it); a full garbage collection before each
region (collections then happen at the same allocations in every run); async calls run on an event loop
with virtual time, so `asyncio.sleep` and timers cost the same instructions however busy the machine is
(see `_instructions_child.VirtualTimeLoop`). What remains is documented in docs/kpi.md: threads, real I/O
and anything that reads the clock or the environment.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pytest_oxbot.kpi.errors import InstrumentError, InstrumentUnavailable

CHILD = "pytest_oxbot._instructions_child"
INSTALL = "install valgrind: apt-get install valgrind (Debian/Ubuntu), dnf install valgrind (Fedora)"
SUPPORTED_MACHINES = ("x86_64", "amd64")
DEFAULT_TIMEOUT = 900.0
_TOTALS = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)
_SUMMARY = re.compile(r"^summary:\s+(\d+)", re.MULTILINE)
_TRIGGER = re.compile(r"^desc: Trigger: Client Request: (\S+)", re.MULTILINE)


class InstructionCount(NamedTuple):
    """Instructions of one measured call (`per_call`), with what it cost to find out (`seconds`)."""

    per_call: float
    rounds: int
    total: int
    overhead: int
    seconds: float


def unavailable_reason() -> str | None:
    """Why instructions cannot be counted here (None: they can)."""
    if sys.platform != "linux":
        return f"instruction counts need Linux and valgrind (this is {sys.platform})"
    if platform.machine().lower() not in SUPPORTED_MACHINES:
        return f"instruction counts are implemented for x86_64 only (this is {platform.machine()})"
    if _valgrind() is None:
        return f"valgrind is not installed ({INSTALL})"
    return None


def require_instrument() -> None:
    """Raise `InstrumentUnavailable` (with the install command) unless instructions can be counted."""
    reason = unavailable_reason()
    if reason is not None:
        raise InstrumentUnavailable(reason)


@functools.cache
def _valgrind() -> str | None:
    return shutil.which("valgrind")


@functools.cache
def _no_aslr_prefix() -> tuple[str, ...]:
    """`setarch <machine> -R` when this kernel lets us turn address-space randomisation off."""
    setarch = shutil.which("setarch")
    if setarch is None:
        return ()
    prefix = (setarch, platform.machine(), "-R")
    try:
        done = subprocess.run([*prefix, "true"], capture_output=True, timeout=30, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return prefix if done.returncode == 0 else ()


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The fixed environment of a counted child: same size and content on every machine and run."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONHASHSEED": "0",
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", tempfile.gettempdir()),
    }
    env.update(extra or {})
    return env


def _importable(obj: Callable[..., Any], role: str) -> dict[str, str]:
    """Module name, file and qualified name of a function the child can import (a clear error if not)."""
    target = inspect.unwrap(obj)
    module_name = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if not module_name or not qualname or "<" in qualname or module_name == "__main__":
        raise InstrumentError(
            f"{role} {obj!r} must be importable by name (a module-level function or a class's method), "
            "not a lambda, a closure or a function of __main__"
        )
    module = sys.modules.get(module_name)
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is None or inspect.unwrap(found) is not target:
        raise InstrumentError(f"{role} {module_name}.{qualname} cannot be found again by its name")
    return {"module": module_name, "file": getattr(module, "__file__", None) or "", "qualname": qualname}


def _json_only(value: Any, what: str) -> Any:
    """Arguments travel as JSON: anything that would not come back equal is refused."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InstrumentError(
            f"{what} must be JSON values (str, int, float, bool, None, lists, dicts): {exc}; build richer "
            "objects in a `setup` function"
        ) from None
    if json.loads(text) != value:
        raise InstrumentError(
            f"{what} would not survive JSON unchanged (tuples? non-string keys?): {value!r}"
        )
    return value


def count_instructions(
    fn: Callable[..., Any],
    *args: Any,
    rounds: int = 3,
    warmup: int = 2,
    setup: Callable[..., Any] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> InstructionCount:
    """Instructions per call of `fn(*args, **kwargs)` (or of `fn(setup(*args, **kwargs))`), sync or async.

    `warmup` calls run uncounted first (imports, caches, the interpreter's specialisation), then `rounds`
    calls are counted and averaged. Raises `InstrumentUnavailable` where valgrind cannot run and
    `InstrumentError` when the call fails in the child (with its traceback).
    """
    if rounds < 1 or warmup < 0:
        raise InstrumentError(f"rounds must be >= 1 and warmup >= 0 (got {rounds}, {warmup})")
    require_instrument()
    spec = {
        "target": _importable(fn, "the measured function"),
        "setup": _importable(setup, "setup") if setup is not None else None,
        "args": _json_only(list(args), "positional arguments"),
        "kwargs": _json_only(kwargs, "keyword arguments"),
        "rounds": rounds,
        "warmup": warmup,
        "sys_path": [p for p in sys.path if p],
    }
    with tempfile.TemporaryDirectory(prefix="oxbot-instructions-") as tmp:
        work = Path(tmp)
        (work / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        started = time.perf_counter()
        done = _run_callgrind(work, [sys.executable, "-m", CHILD, str(work / "spec.json")], env, timeout)
        seconds = time.perf_counter() - started
        regions = _regions(work)
        if done.returncode != 0 or "measured" not in regions or "empty" not in regions:
            raise InstrumentError(_failure(fn, done, work))
    total, overhead = regions["measured"], regions["empty"]
    return InstructionCount((total - overhead) / rounds, rounds, total, overhead, seconds)


def _run_callgrind(
    work: Path, command: Sequence[str], env: Mapping[str, str] | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    valgrind = _valgrind()
    assert valgrind is not None
    argv = [
        *_no_aslr_prefix(),
        valgrind,
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={work / 'callgrind.out'}",
        f"--log-file={work / 'valgrind.log'}",
        *command,
    ]
    try:
        return subprocess.run(  # noqa: S603 - our own valgrind command line
            argv,
            cwd=work,
            env=child_environment(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InstrumentError(f"counting instructions took longer than {timeout:.0f} s") from None


def _regions(work: Path) -> dict[str, int]:
    """Instruction totals by client-request dump name ("empty", "measured")."""
    found: dict[str, int] = {}
    for path in work.glob("callgrind.out*"):
        text = path.read_text(encoding="utf-8", errors="replace")
        trigger, totals = _TRIGGER.search(text), _TOTALS.search(text)
        if trigger and totals:
            found[trigger.group(1)] = int(totals.group(1))
    return found


def _failure(fn: Callable[..., Any], done: subprocess.CompletedProcess[str], work: Path) -> str:
    log = work / "valgrind.log"
    tail = (done.stderr or "").strip()[-3000:]
    if not tail and log.exists():
        tail = log.read_text(encoding="utf-8", errors="replace").strip()[-3000:]
    name = getattr(fn, "__qualname__", repr(fn))
    return f"counting the instructions of {name} failed in the child (exit {done.returncode}):\n{tail}"


def count_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> int:
    """Instructions of a whole process (`argv`), start-up included: for comparing two commands.

    Runs under cachegrind without cache simulation (the fastest valgrind tool that counts) in the same
    fixed environment as `count_instructions`. The command must succeed.
    """
    require_instrument()
    valgrind = _valgrind()
    assert valgrind is not None
    with tempfile.TemporaryDirectory(prefix="oxbot-instructions-") as tmp:
        out = Path(tmp) / "cachegrind.out"
        command = [
            *_no_aslr_prefix(),
            valgrind,
            "--tool=cachegrind",
            "--cache-sim=no",
            f"--cachegrind-out-file={out}",
            f"--log-file={Path(tmp) / 'valgrind.log'}",
            *argv,
        ]
        try:
            done = subprocess.run(  # noqa: S603 - our own valgrind command line
                command,
                cwd=cwd,
                env=child_environment(env),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise InstrumentError(f"counting {argv[0]} took longer than {timeout:.0f} s") from None
        summary = _SUMMARY.search(out.read_text(encoding="utf-8")) if out.exists() else None
        if done.returncode != 0 or summary is None:
            raise InstrumentError(
                f"{' '.join(argv)} failed under valgrind (exit {done.returncode}):\n"
                f"{(done.stdout + done.stderr).strip()[-3000:]}"
            )
        return int(summary.group(1))
