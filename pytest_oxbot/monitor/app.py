"""The HTTP service: FastAPI (its OpenAPI document for the JSON endpoints) served by uvicorn.

Read-only endpoints are open; mutating ones (POST) need `Authorization: Bearer <token>` and are checked
before anything else, so an unauthenticated request learns nothing (not even whether its body was
valid). Without a configured token the POST endpoints are disabled (401). Bodies are optional JSON
objects with typed fields: malformed JSON is a 400, a wrong type a 422, each with a message.
"""

import asyncio
import contextlib
import ipaddress
import logging
import math
import secrets
import socket
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from pytest_oxbot._tasks import stop
from pytest_oxbot.errors import require
from pytest_oxbot.monitor.dashboard import DASHBOARD_JS, chart_metrics, page, panels
from pytest_oxbot.monitor.errors import MonitorStartError
from pytest_oxbot.monitor.history import FLEET
from pytest_oxbot.monitor.metrics import METRICS

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pytest_oxbot.monitor.service import Monitor

__all__ = ["TOKEN_ENV", "check_bind", "create_app", "is_loopback", "serve"]

log = logging.getLogger("pytest_oxbot.monitor")
TOKEN_ENV = "OXBOT_MONITOR_TOKEN"  # noqa: S105 (the variable's name, not a token)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MetricName = Enum("MetricName", {m.replace(".", "_"): m for m in METRICS}, type=str)  # type: ignore[misc]
_DEFAULT_METRIC = MetricName("cache_hit_rate")


class FlushRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: str | None = Field(default=None, max_length=200)


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    history: bool = False


class MetricsOut(BaseModel):
    t: float
    window_s: float
    fleet: dict[str, float | None]
    samples: dict[str, float]
    processes: dict[str, dict[str, float | None]]
    units: dict[str, str]


class AlertsOut(BaseModel):
    active: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    orders: dict[str, dict[str, Any]]
    applied: dict[str, list[Any]]
    history: list[dict[str, Any]]


class HistoryOut(BaseModel):
    metric: str
    unit: str
    process: str
    hours: float
    requested_hours: float
    resolution_s: float
    points: list[tuple[float, float]]


class HealthOut(BaseModel):
    status: str
    processes: int
    active_alerts: list[str]
    last_error: str | None


class FlushOut(BaseModel):
    flush_seq: int
    local: list[str]
    remote_processes: list[str]


class ResetOut(BaseModel):
    epoch: int
    withdrawn: list[str]
    local: list[str]
    history_cleared: bool


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve on a non-loopback address without a token (the POST endpoints change the bot)."""
    if not is_loopback(host) and not token:
        raise MonitorStartError(
            f"refusing to listen on {host} (not a loopback address) without a token: set {TOKEN_ENV}"
        )
    if token is not None and len(token) < 16:
        raise MonitorStartError(f"{TOKEN_ENV} is too short: use at least 16 characters")


def create_app(monitor: "Monitor", *, token: str | None = None, refresh_s: float = 5.0) -> "FastAPI":
    """The ASGI app over `monitor` (test it with `httpx.ASGITransport(app=...)`)."""
    require("fastapi", feature="the monitor's HTTP service", extra="monitor")
    from fastapi import Body, FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from fastapi.security import HTTPBearer

    if not 0.2 <= refresh_s <= 3600:
        raise ValueError("refresh_s must be within 0.2..3600 seconds")

    bearer = HTTPBearer(auto_error=False, description=f"the monitor's token ({TOKEN_ENV})")
    app = FastAPI(
        title="pytest-oxbot live performance monitor",
        version="1",
        description="Metrics, alerts and history of a fleet of LLM trading bots. POST endpoints need a "
        "bearer token.",
        docs_url=None,  # Swagger UI loads from a CDN: the page must work offline
        redoc_url=None,
        openapi_url="/performance/openapi.json",
    )

    @app.middleware("http")
    async def _auth(request: Request, call_next: Any) -> Response:
        if request.method not in _SAFE_METHODS:
            header = request.headers.get("authorization", "")
            scheme, _, given = header.partition(" ")
            if token is None:
                return _unauthorized(
                    f"mutating endpoints are disabled: start the monitor with {TOKEN_ENV} set"
                )
            if scheme.lower() != "bearer" or not secrets.compare_digest(
                given.strip().encode(), token.encode()
            ):
                return _unauthorized("missing or wrong bearer token")
        response: Response = await call_next(request)
        return response

    def _unauthorized(message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        malformed = any(e.get("type") == "json_invalid" for e in errors)
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors)
        return JSONResponse(
            {"error": ("malformed JSON body: " if malformed else "invalid request: ") + problems},
            status_code=400 if malformed else 422,
        )

    def _hours(value: float) -> float:
        return min(value, monitor.config.history_hours)

    @app.get("/performance", response_class=HTMLResponse, tags=["dashboard"])
    async def dashboard(hours: Annotated[float, Query(gt=0, allow_inf_nan=False)] = 1.0) -> HTMLResponse:
        return HTMLResponse(
            page(refresh_ms=int(refresh_s * 1000), hours=_hours(hours)),
            headers={
                "Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; img-src 'self'"
            },
        )

    @app.get("/performance/dashboard.js", include_in_schema=False)
    async def dashboard_js() -> Response:
        return Response(DASHBOARD_JS, media_type="text/javascript")

    @app.get("/performance/panels", response_class=HTMLResponse, tags=["dashboard"])
    async def dashboard_panels(
        hours: Annotated[float, Query(gt=0, allow_inf_nan=False)] = 1.0,
    ) -> HTMLResponse:
        span = _hours(hours)
        series = {}
        for metric in chart_metrics():
            view = await monitor.history_view(metric, span)
            series[metric] = [(t, v) for t, v in view["points"]]
        history = await monitor.alert_history(span)
        body = panels(
            series,
            monitor.alerts_view(),
            history,
            monitor.status_view(),
            now=monitor.clock.time(),
            hours=span,
        )
        return HTMLResponse(body)

    @app.get("/performance/metrics", response_model=MetricsOut, tags=["json"])
    async def metrics() -> dict[str, Any]:
        return _finite(monitor.metrics_view())

    @app.get("/performance/alerts", response_model=AlertsOut, tags=["json"])
    async def alerts(hours: Annotated[float, Query(gt=0, allow_inf_nan=False)] = 24.0) -> dict[str, Any]:
        view = monitor.alerts_view()
        view["history"] = await monitor.alert_history(_hours(hours))
        return _finite(view)

    @app.get("/performance/history", response_model=HistoryOut, tags=["json"])
    async def history(
        metric: Annotated[MetricName, Query(description="one of the monitor's metrics")] = _DEFAULT_METRIC,
        hours: Annotated[
            float, Query(gt=0, allow_inf_nan=False, description="capped at the retention")
        ] = 24.0,
        process: Annotated[
            str, Query(min_length=1, max_length=128, description="a process, or * for all")
        ] = FLEET,
    ) -> dict[str, Any]:
        view = await monitor.history_view(metric.value, _hours(hours), process)
        view["requested_hours"] = hours
        return _finite(view)

    @app.get("/performance/status", tags=["json"])
    async def status() -> dict[str, Any]:
        return _finite(monitor.status_view())

    @app.get("/health/performance", response_model=HealthOut, tags=["json"])
    async def health() -> JSONResponse:
        code, body = monitor.health_view()
        return JSONResponse(body, status_code=code)

    @app.post(
        "/performance/cache/flush", response_model=FlushOut, tags=["json"], dependencies=[_security(bearer)]
    )
    async def flush(body: Annotated[FlushRequest | None, Body()] = None) -> dict[str, Any]:
        result = await monitor.flush_caches()
        if body is not None and body.reason:
            log.warning("PERFORMANCE cache flush reason: %s", body.reason)
        return result

    @app.post(
        "/performance/metrics/reset", response_model=ResetOut, tags=["json"], dependencies=[_security(bearer)]
    )
    async def reset(body: Annotated[ResetRequest | None, Body()] = None) -> dict[str, Any]:
        return await monitor.reset(history=bool(body and body.history))

    @app.get("/metrics", tags=["prometheus"], response_class=PlainTextResponse)
    async def prometheus() -> Response:
        from pytest_oxbot.monitor.prometheus import exposition

        payload, content_type = exposition(monitor)
        return Response(payload, media_type=content_type)

    return app


def _security(bearer: Any) -> Any:
    from fastapi import Security

    return Security(bearer)


def _finite(view: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN/Infinity: such floats become null."""
    return {k: _clean(v) for k, v in view.items()}


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one); a clear error when the address is taken."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise MonitorStartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(
    monitor: "Monitor",
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    refresh_s: float = 5.0,
    on_ready: Callable[[int], None] | None = None,
    sample: bool = True,
) -> None:
    """Run the monitor's sampling loop and the HTTP service until cancelled (`on_ready(port)` once up).

    `sample=False` leaves the ticking to the caller (a replay that moves a fake clock).
    """
    check_bind(host, token)
    require("uvicorn", feature="the monitor's HTTP service", extra="monitor")
    import uvicorn

    app = create_app(monitor, token=token, refresh_s=refresh_s)
    sock = bind_socket(host, port)
    bound = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    await monitor.start()
    sampler = asyncio.create_task(monitor.run() if sample else asyncio.Event().wait())
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        # uvicorn exposes a flag, not an event
        while not server.started and not serving.done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if serving.done():
            await serving
            raise MonitorStartError(f"the HTTP server on {host}:{bound} stopped at start-up")
        log.info("PERFORMANCE dashboard on http://%s:%d/performance", host, bound)
        if on_ready is not None:
            on_ready(bound)
        await serving
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(serving), 5)
        await stop([sampler])
        sock.close()
