"""HTTP client options shared by every client the toolkit builds (market data, LLM), as one value.

Why one place: 0xBot's HTTP_CONNECT_TIMEOUT / HTTP_READ_TIMEOUT / HTTP_MAX_CONNECTIONS apply to every
outgoing connection, and a client must never wait without bound. The values are explicit arguments;
`Settings.http()` builds them from the environment at the edges.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from pytest_oxbot.errors import SettingsError

__all__ = ["HttpOptions"]


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """Timeouts (seconds) and the connection cap of one httpx client."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_connections: int = 100

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise SettingsError(
                    f"HttpOptions.{name} must be a finite number of seconds > 0, got {value!r}"
                )
        if not (isinstance(self.max_connections, int) and self.max_connections >= 1):
            raise SettingsError(
                f"HttpOptions.max_connections must be an integer >= 1, got {self.max_connections!r}"
            )

    def client(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.AsyncClient:
        """An `httpx.AsyncClient` with these limits (nothing connects until the first request)."""
        return httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(
                connect=self.connect_timeout,
                read=self.read_timeout,
                write=self.read_timeout,
                pool=self.connect_timeout,
            ),
            limits=httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=min(20, self.max_connections),
            ),
            transport=transport,
            headers=dict(headers or {}),
        )
