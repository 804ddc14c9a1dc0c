"""The child that `pytest_oxbot.kpi.instructions` runs under callgrind: `python -m` this module SPEC.

It imports the measured function by name, runs set-up and warm-up uncounted, and switches callgrind's
instrumentation on only around the measured calls, with valgrind client requests. A client request is a
fixed, documented instruction sequence (valgrind.h, amd64: four `rol` of %rdi then `xchg %rbx,%rbx`)
that valgrind recognises and a real CPU executes as a no-op; a 27-byte function holding it is mapped
executable with `mmap` and called through ctypes, which keeps the package free of compiled code.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import importlib
import importlib.util
import inspect
import json
import mmap
import selectors
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# mov %rdi,%rax; xor %edx,%edx; rol $3,$13,$61,$51 %rdi (a full turn); xchg %rbx,%rbx; mov %rdx,%rax; ret
_REQUEST_AMD64 = bytes.fromhex("4889f8 31d2 48c1c703 48c1c70d 48c1c73d 48c1c733 4887db 4889d0 c3")
_CALLGRIND = (ord("C") << 24) | (ord("T") << 16)
ZERO_STATS = _CALLGRIND + 1
DUMP_STATS_AT = _CALLGRIND + 3
START_INSTRUMENTATION = _CALLGRIND + 4
STOP_INSTRUMENTATION = _CALLGRIND + 5
RUNNING_ON_VALGRIND = 0x1001


class ClientRequests:
    """Valgrind client requests from Python (amd64)."""

    def __init__(self) -> None:
        self._page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        self._page.write(_REQUEST_AMD64)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        self._call = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p)(address)
        self._args = (ctypes.c_size_t * 6)()
        self._names: dict[str, ctypes.Array[ctypes.c_char]] = {}

    def request(self, code: int, arg: int = 0) -> int:
        self._args[0] = code
        self._args[1] = arg
        return int(self._call(ctypes.addressof(self._args)))

    def start(self) -> None:
        self.request(START_INSTRUMENTATION)
        self.request(ZERO_STATS)

    def stop(self, name: str) -> None:
        self.request(STOP_INSTRUMENTATION)
        label = self._names.setdefault(name, ctypes.create_string_buffer(name.encode()))
        self.request(DUMP_STATS_AT, ctypes.addressof(label))


class _VirtualTimeSelector(selectors.DefaultSelector):
    """Never waits for a timer: when only the loop's own wake-up pipe is registered, a wait for the next
    timer advances virtual time instead, so sleeps and timeouts cost no idle polling and no wall time."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is not None and len(self.get_map()) <= 1:
            self.now += timeout
            return []
        started = time.monotonic()  # real I/O pending: wait for it for real, and let virtual time follow
        ready = super().select(timeout)
        self.now += time.monotonic() - started
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is virtual: deterministic for code that only sleeps and computes."""

    def __init__(self) -> None:
        self._virtual = _VirtualTimeSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


def _load(ref: dict[str, str]) -> Callable[..., Any]:
    """The function `ref` names, from its module re-imported (from the same file when it has one)."""
    name, file = ref["module"], ref["file"]
    module = sys.modules.get(name)
    if module is None and file:
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {name} from {file}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    elif module is None:
        module = importlib.import_module(name)
    found: Any = module
    for part in ref["qualname"].split("."):
        found = getattr(found, part)
    return found  # type: ignore[no-any-return]


def _settle() -> None:
    """The same heap state before every region: collections then fall at the same allocations."""
    gc.collect()


def _sync(fn: Callable[..., Any], call: tuple[list[Any], dict[str, Any]], spec: dict[str, Any]) -> None:
    args, kwargs = call
    requests = ClientRequests()
    for _ in range(spec["warmup"]):
        fn(*args, **kwargs)
    _settle()
    requests.start()
    requests.stop("empty")
    _settle()
    requests.start()
    for _ in range(spec["rounds"]):
        fn(*args, **kwargs)
    requests.stop("measured")


async def _async(fn: Callable[..., Any], setup: Callable[..., Any] | None, spec: dict[str, Any]) -> None:
    args, kwargs = await _arguments_async(setup, spec)
    requests = ClientRequests()
    for _ in range(spec["warmup"]):
        await fn(*args, **kwargs)
    _settle()
    requests.start()
    requests.stop("empty")
    _settle()
    requests.start()
    for _ in range(spec["rounds"]):
        await fn(*args, **kwargs)
    requests.stop("measured")


async def _arguments_async(
    setup: Callable[..., Any] | None, spec: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    if setup is None:
        return spec["args"], spec["kwargs"]
    state = setup(*spec["args"], **spec["kwargs"])
    if inspect.isawaitable(state):
        state = await state
    return [state], {}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    sys.path[:] = [*spec["sys_path"], *[p for p in sys.path if p not in spec["sys_path"]]]
    fn = _load(spec["target"])
    setup = _load(spec["setup"]) if spec["setup"] else None
    if inspect.iscoroutinefunction(inspect.unwrap(fn)):
        loop = VirtualTimeLoop()
        try:
            loop.run_until_complete(_async(fn, setup, spec))
        finally:
            loop.close()
        return 0
    if setup is not None:
        state = setup(*spec["args"], **spec["kwargs"])
        if inspect.isawaitable(state):
            raise TypeError("an async setup needs an async measured function")
        _sync(fn, ([state], {}), spec)
    else:
        _sync(fn, (spec["args"], spec["kwargs"]), spec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
