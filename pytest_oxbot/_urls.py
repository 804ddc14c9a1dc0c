"""Connection-URL helpers with no dependencies, so the pytest plugin's report header stays cheap."""

from __future__ import annotations


def redact_url(url: str | None) -> str | None:
    """Hide the password of a connection URL so it can be shown in headers and logs."""
    if not url or "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
