"""Stable cache keys from call arguments: the same arguments give the same key in every process."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .codec import DEFAULT_CODEC
from .errors import CacheUsageError


def make_key(name: str, /, *args: Any, **kwargs: Any) -> str:
    """`name:<hash>` where the hash covers the arguments' values and types.

    The arguments go through the cache codec (so `Decimal("1")`, `1` and `"1"` differ) and keyword
    order does not matter. `hash()` is not used: it is salted per process for strings.
    """
    if not name:
        raise CacheUsageError("make_key needs a non-empty name")
    canonical = json.dumps(
        [json.loads(DEFAULT_CODEC.dumps(list(args))), json.loads(DEFAULT_CODEC.dumps(kwargs))],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    digest = hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()
    return f"{name}:{digest}"
