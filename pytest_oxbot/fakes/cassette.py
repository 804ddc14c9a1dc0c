"""Record real chat-completion calls once, replay them offline (CI has no key and must not spend).

Why keyed by a hash of the request body: the body (model, messages, parameters) is what determines the
answer, and it never contains the API key, which travels only in the Authorization header and is never
read here. A cassette is plain JSON (no pickle), written atomically, and refuses to store any text that
contains a secret it was told about.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pytest_oxbot.errors import FakeError

__all__ = [
    "Cassette",
    "CassetteEntry",
    "CassetteError",
    "CassetteMiss",
    "RecordingTransport",
    "request_hash",
]

_VERSION = 1
_WIRE_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}


class CassetteMiss(FakeError, LookupError):
    """Replay found no recorded answer for a request."""


class CassetteError(FakeError, ValueError):
    """A cassette file that cannot be replayed (unreadable, not JSON, wrong shape); names file and field."""


def request_hash(payload: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON request body (sorted keys, no whitespace)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CassetteEntry:
    """One recorded answer: the provider's full JSON body and the latency measured when recording."""

    model: str
    response: dict[str, Any]
    latency_s: float
    recorded_at: float

    @property
    def usage(self) -> dict[str, Any]:
        usage = self.response.get("usage")
        return dict(usage) if isinstance(usage, Mapping) else {}


class Cassette:
    """A JSON file of request hash -> `CassetteEntry`."""

    def __init__(self, path: str | os.PathLike[str], *, secrets: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self._secrets = [s for s in secrets if s]
        self.entries: dict[str, CassetteEntry] = {}
        if self.path.exists():
            self._load()

    def __repr__(self) -> str:
        return f"Cassette({str(self.path)!r}, entries={len(self.entries)})"

    def _load(self) -> None:
        """Read and check every entry: a tampered file is a `CassetteError` naming file and field."""
        where = f"cassette {self.path}"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CassetteError(f"{where}: cannot be read ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise CassetteError(f"{where}: not UTF-8 text") from None
        except RecursionError:
            raise CassetteError(f"{where}: nested too deeply to be a cassette") from None
        except ValueError as exc:
            raise CassetteError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise CassetteError(f"{where}: expected an object with 'version' and 'entries'")
        if data.get("version") != _VERSION:
            raise CassetteError(
                f"{where}: field 'version' is {data.get('version')!r:.40}, expected {_VERSION}"
            )
        entries = data.get("entries", {})
        if not isinstance(entries, dict):
            raise CassetteError(f"{where}: field 'entries' must be an object of request hash -> entry")
        for key, e in entries.items():
            self.entries[key] = _entry(where, key, e)

    def get(self, key: str) -> CassetteEntry:
        try:
            return self.entries[key]
        except KeyError:
            raise CassetteMiss(
                f"no recorded answer for request {key[:16]}... in {self.path}; re-record with a real key "
                "and --oxbot-llm-record"
            ) from None

    def put(self, key: str, entry: CassetteEntry) -> None:
        text = json.dumps(entry.response)
        for secret in self._secrets:
            if secret in text or secret in entry.model:
                raise CassetteError(
                    f"cassette {self.path}: refusing to record an answer that contains a secret"
                )
        self.entries[key] = entry

    def save(self) -> None:
        data = {
            "version": _VERSION,
            "entries": {
                k: {
                    "model": e.model,
                    "response": e.response,
                    "latency_s": e.latency_s,
                    "recorded_at": e.recorded_at,
                }
                for k, e in sorted(self.entries.items())
            },
        }
        text = json.dumps(data, indent=1, sort_keys=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, self.path)


def _entry(where: str, key: str, e: Any) -> CassetteEntry:
    at = f"{where}: entry {key[:16]!r}"
    if not isinstance(e, dict):
        raise CassetteError(f"{at} must be an object, got {type(e).__name__}")
    for name in ("model", "response", "latency_s", "recorded_at"):
        if name not in e:
            raise CassetteError(f"{at} lacks field {name!r}")
    model, response, latency, recorded = e["model"], e["response"], e["latency_s"], e["recorded_at"]
    if not isinstance(model, str):
        raise CassetteError(f"{at}: field 'model' must be a string, got {type(model).__name__}")
    if not isinstance(response, dict):
        raise CassetteError(f"{at}: field 'response' must be the provider's JSON object")
    for name, value in (("latency_s", latency), ("recorded_at", recorded)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise CassetteError(f"{at}: field {name!r} must be a finite number >= 0, got {value!r:.40}")
    return CassetteEntry(model, response, float(latency), float(recorded))


class RecordingTransport(httpx.AsyncBaseTransport):
    """Forwards to the real provider and records each successful chat completion into a cassette."""

    def __init__(
        self,
        cassette: Cassette,
        inner: httpx.AsyncBaseTransport | None = None,
        *,
        on_record: Callable[[float], None] | None = None,
    ) -> None:
        self.cassette = cassette
        self._inner = inner or httpx.AsyncHTTPTransport()
        self._on_record = on_record

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        start = time.monotonic()
        response = await self._inner.handle_async_request(request)
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return response
        body = await response.aread()
        latency = time.monotonic() - start  # a real measurement: this is what replay will report
        if response.status_code == 200:
            payload = json.loads(request.content)
            self.cassette.put(
                request_hash(payload),
                CassetteEntry(str(payload.get("model")), json.loads(body), latency, time.time()),
            )
            if self._on_record is not None:
                self._on_record(latency)
        # The body is already decoded: drop the headers that describe the wire encoding.
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _WIRE_HEADERS]
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        await self._inner.aclose()
