"""A real HTTP/1.1 server on 127.0.0.1 that answers with a fake's own handler (the one respx calls).

Why a server as well as respx: respx only patches httpx. ccxt (aiohttp), `requests` and recent `openai`
SDK releases (httpx2) have their own transports and can only be pointed at a URL. The server hands each
request, as an `httpx.Request`, to the very function respx calls, so both paths share one home for the
fake's behaviour: same data, counters, latency model and fault injection.

Why asyncio + h11 in a thread rather than `http.server` or uvicorn: h11 (already installed with httpx)
parses HTTP/1.1 to the letter (keep-alive, chunked bodies, pipelining limits), one event loop serves every
connection so the fake's handler never runs twice at once, and a thread of its own keeps the server
answering while a test's event loop is blocked by a synchronous client (`requests`, `openai.OpenAI`).
uvicorn would add a dependency and signal handling for nothing a test needs.

Each server binds port 0 (the kernel picks a free port), so parallel workers (pytest-xdist) never clash.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import h11
import httpx

from pytest_oxbot.errors import FakeError

__all__ = ["Handler", "LoopbackServer", "ServerError", "pass_through_to_loopback"]

log = logging.getLogger(__name__)

Handler = Callable[[httpx.Request], "httpx.Response | Awaitable[httpx.Response]"]
"""The fake's request handler: the same callable respx uses as a side effect."""

MAX_BODY = 16 * 1024 * 1024
"""Largest request body accepted (a 16 MiB prompt is far beyond any model's context)."""

_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}


_RUNNING: set[tuple[str, int]] = set()
_RUNNING_LOCK = threading.Lock()


def pass_through_to_loopback(request: httpx.Request) -> httpx.Request | None:
    """A respx side effect: let a request to any running fake's loopback server through, match nothing else.

    respx patches httpx globally, so while one fake is mounted, an httpx client aimed at another fake's
    loopback server would be refused as "not mocked"; every fake's router carries this route.
    """
    with _RUNNING_LOCK:
        ours = (request.url.host, request.url.port or 80) in _RUNNING
    return request if ours else None


class ServerError(FakeError):
    """The loopback server could not start, or the fake's handler failed on a request."""


class LoopbackServer:
    """Serves `handler` on `http://127.0.0.1:<free port>` from a daemon thread until `stop()`.

    A handler that raises `httpx.TimeoutException` models a provider that never answers: the server holds
    the connection open, without a response, until the client gives up (or `hold_s` passes), so the
    client sees a real read timeout. Any other exception is answered with HTTP 500 and kept in `errors`,
    so the test that caused it can be failed with the reason.
    """

    def __init__(
        self, handler: Handler, *, name: str = "oxbot-fake", host: str = "127.0.0.1", hold_s: float = 60.0
    ) -> None:
        self._handler = handler
        self.name = name
        self.host = host
        self.hold_s = hold_s
        self.port: int | None = None
        self.errors: list[str] = []
        """What the handler raised (type and message), in order: a test should fail on any of these."""
        self.requests_served = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return f"LoopbackServer({self.name!r}, {state})"

    @property
    def running(self) -> bool:
        return self._thread is not None and self.port is not None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>` (no trailing slash)."""
        if self.port is None:
            raise ServerError(f"{self.name}: the loopback server is not started")
        return f"http://{self.host}:{self.port}"

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> str:
        """Bind a free port and serve in a daemon thread; returns the base URL. Idempotent."""
        with self._lock:
            if self.running:
                return self.url
            ready = threading.Event()
            failure: list[BaseException] = []
            loop = asyncio.new_event_loop()

            def run() -> None:
                asyncio.set_event_loop(loop)
                try:
                    self._server = loop.run_until_complete(
                        asyncio.start_server(self._serve_connection, self.host, 0, reuse_address=True)
                    )
                    self.port = int(self._server.sockets[0].getsockname()[1])
                except BaseException as exc:  # handed to the starting thread
                    failure.append(exc)
                    ready.set()
                    loop.close()
                    return
                ready.set()
                try:
                    loop.run_forever()
                finally:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                    loop.close()

            thread = threading.Thread(target=run, name=f"{self.name}-server", daemon=True)
            thread.start()
            if not ready.wait(timeout):
                raise ServerError(f"{self.name}: the loopback server did not start within {timeout} s")
            if failure:
                thread.join(timeout)
                raise ServerError(f"{self.name}: cannot serve on {self.host}: {failure[0]}") from failure[0]
            self._loop, self._thread = loop, thread
            with _RUNNING_LOCK:
                _RUNNING.add((self.host, self.port or 0))
            return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listening socket and every open connection, then end the thread. Idempotent."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return
            with _RUNNING_LOCK:
                _RUNNING.discard((self.host, self.port or 0))
            with contextlib.suppress(RuntimeError):  # the loop may already be gone
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            self._loop = self._thread = self._server = None
            self.port = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- one connection ---------------------------------------------------------------------------

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await _next_event(conn, reader)
                if not isinstance(request, h11.Request):
                    break  # ConnectionClosed, or a client that went away between requests
                if conn.they_are_waiting_for_100_continue:
                    writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
                body = bytearray()
                while True:
                    event = await _next_event(conn, reader)
                    if isinstance(event, h11.Data):
                        body += event.data
                        if len(body) > MAX_BODY:
                            await _send(conn, writer, _plain(413, f"request body over {MAX_BODY} bytes"))
                            await _linger(reader)  # let the client finish sending, so it reads the 413
                            return
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    else:
                        return
                response = await self._answer(request, bytes(body), reader)
                if response is None:
                    return  # a modelled timeout: the client got no answer and the connection is dropped
                self.requests_served += 1  # before the answer leaves: a client that got it sees the count
                await _send(conn, writer, response, head=request.method == b"HEAD")
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            with contextlib.suppress(h11.LocalProtocolError, ConnectionError):
                await _send(conn, writer, _plain(exc.error_status_hint, f"bad request: {exc}"))
        except (ConnectionError, asyncio.IncompleteReadError, h11.LocalProtocolError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(
        self, request: h11.Request, body: bytes, reader: asyncio.StreamReader
    ) -> httpx.Response | None:
        target = request.target.decode("latin-1")
        url = f"{self.url}{target if target.startswith('/') else '/' + target}"
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers]
        try:
            http_request = httpx.Request(request.method.decode("ascii"), url, headers=headers, content=body)
            result = self._handler(http_request)
            response = await result if inspect.isawaitable(result) else result
            await response.aread()
            return response
        except httpx.TimeoutException:
            await _hold(reader, self.hold_s)
            return None
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            self.errors.append(message)
            method = request.method.decode("ascii", "replace")
            log.warning("%s: the fake failed on %s %s: %s", self.name, method, target, message)
            body_json = {"error": {"message": message, "type": "oxbot_fake_error"}}
            return httpx.Response(500, json=body_json)


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Event | type[h11.PAUSED]:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event  # type: ignore[return-value]
        data = await reader.read(65536)
        conn.receive_data(data)  # b"" marks the end of the stream


async def _send(
    conn: h11.Connection, writer: asyncio.StreamWriter, response: httpx.Response, *, head: bool = False
) -> None:
    """The response; for HEAD its headers only (the length of the body a GET would get)."""
    body = response.content
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_HEADERS]
    headers.append(("content-length", str(len(body))))
    try:
        reason = HTTPStatus(response.status_code).phrase
    except ValueError:
        reason = ""
    writer.write(
        conn.send(h11.Response(status_code=response.status_code, headers=headers, reason=reason.encode()))
    )
    if body and not head:
        writer.write(conn.send(h11.Data(data=body)))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()


async def _hold(reader: asyncio.StreamReader, seconds: float) -> None:
    """Answer nothing until the client hangs up or `seconds` pass (what a stalled provider does)."""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass


async def _linger(reader: asyncio.StreamReader, limit: int = 2 * MAX_BODY, seconds: float = 5.0) -> None:
    """Discard what the client still sends (bounded in bytes and time) before closing, as servers do."""
    dropped = 0
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(seconds):
            while dropped < limit and (chunk := await reader.read(65536)):
                dropped += len(chunk)


def _plain(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps({"error": {"message": message}}).encode())
