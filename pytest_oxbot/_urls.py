"""Connection-URL redaction with no dependencies, so every place that shows a URL can afford it.

A URL may carry a secret in several forms: `user:password@host`, `:password@host`, a lone `secret@host`
(Redis reads it as the password), or a query parameter (`?password=`, `&token=`, `?sslpassword=`,
`?api_key=`). `redact_url` masks all of them; anything it cannot parse is masked up to its last `@`.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|key|auth|credential|signature|sig$", re.IGNORECASE)
_MASK = "***"
_REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+cluster", "unix", "valkey", "valkeys"})


def redact_url(url: str | None) -> str | None:
    """The URL with every credential masked (password, lone Redis secret, secret query parameters)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return _mask_userinfo(url)
    if not parts.scheme or not (parts.netloc or parts.query):
        return _mask_userinfo(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        if has_password:
            netloc = f"{user}:{_MASK}@{host}"
        elif parts.scheme.lower() in _REDIS_SCHEMES:
            netloc = f"{_MASK}@{host}"
        else:
            netloc = f"{user}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, _MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*/:")
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, ""))


def _mask_userinfo(text: str) -> str:
    if "@" not in text:
        return text
    head, tail = text.rsplit("@", 1)
    scheme, sep, _ = head.partition("://")
    return f"{scheme}{sep}{_MASK}@{tail}" if sep else f"{_MASK}@{tail}"
