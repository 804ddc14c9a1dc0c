"""A tagged-JSON codec: values keep their Python type through Redis and SQL, and decoding runs no code.

Pickle is out: unpickling bytes another process wrote to a shared Redis is code execution. JSON with a
small tag for each non-JSON type (`{"__t": "dec", "v": "1.10"}`) is safe, readable in `redis-cli`, and
decodes dataclasses and pydantic models only when their class was registered (explicitly, or by
encoding one in this process), so a payload can never name an arbitrary class to instantiate.

Whatever bytes it is given (another program's, a truncated write, a hostile neighbour's), `loads`
returns a value or raises `CodecError`, nothing else: deep nesting, bad numbers, wrong shapes under a
tag all end there, and a payload over `max_bytes` is refused before it is parsed.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from .errors import CacheUsageError, CodecError

__all__ = ["DEFAULT_CODEC", "DEFAULT_MAX_BYTES", "Codec", "CodecError"]

DEFAULT_MAX_BYTES = 16 * 1024 * 1024  # far above any market snapshot or LLM answer; Redis allows 512 MiB
_TAG = "__t"
_TAG_MARK = '"__t"'
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _type_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class Codec:
    """Encode Python values to JSON bytes and back, keeping str/bytes/int/float/Decimal/datetime/... types."""

    def __init__(self, types: Iterable[type] = (), *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if not isinstance(max_bytes, int) or max_bytes < 1:
            raise CacheUsageError(f"max_bytes must be a positive int, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._types: dict[str, type] = {}
        for cls in types:
            self.register(cls)

    def register(self, cls: type) -> type:
        """Allow a dataclass or pydantic model class to be decoded (usable as a class decorator)."""
        if not (dataclasses.is_dataclass(cls) or issubclass(cls, BaseModel)):
            raise CodecError(f"only dataclasses and pydantic models can be registered, not {cls!r}")
        self._types[_type_name(cls)] = cls
        return cls

    # -- encoding -------------------------------------------------------------------------------
    def dumps(self, value: Any) -> bytes:
        """JSON bytes for `value` (compact, keys in insertion order), at most `max_bytes` of them."""
        try:
            out = json.dumps(
                self._enc(value), separators=(",", ":"), ensure_ascii=False, allow_nan=True
            ).encode()
        except CodecError:
            raise
        except (TypeError, ValueError, RecursionError, OverflowError) as exc:
            raise CodecError(f"cannot encode {type(value).__name__}: {type(exc).__name__}: {exc}") from exc
        if len(out) > self.max_bytes:
            raise CodecError(
                f"{type(value).__name__} encodes to {len(out)} bytes, over this codec's max_bytes "
                f"({self.max_bytes}): it could never be read back"
            )
        return out

    def _enc(self, v: Any) -> Any:
        t = type(v)
        if t is str or t is int or t is float or t is bool or v is None:
            return v
        if t is dict:
            if all(type(k) is str for k in v) and _TAG not in v:
                return {k: self._enc(x) for k, x in v.items()}
            return {_TAG: "map", "v": [[self._enc(k), self._enc(x)] for k, x in v.items()]}
        if t is list:
            return [self._enc(x) for x in v]
        if t is tuple:
            return {_TAG: "tup", "v": [self._enc(x) for x in v]}
        if t is bytes:
            return {_TAG: "b", "v": base64.b64encode(v).decode("ascii")}
        if t is Decimal:
            return {_TAG: "dec", "v": str(v)}
        if t is dt.datetime:
            return (
                {_TAG: "dt", "v": v.isoformat(), "f": v.fold} if v.fold else {_TAG: "dt", "v": v.isoformat()}
            )
        if t is dt.date:
            return {_TAG: "d", "v": v.isoformat()}
        if t is dt.time:
            return (
                {_TAG: "tm", "v": v.isoformat(), "f": v.fold} if v.fold else {_TAG: "tm", "v": v.isoformat()}
            )
        if t is dt.timedelta:
            return {_TAG: "td", "v": [v.days, v.seconds, v.microseconds]}
        if t is uuid.UUID:
            return {_TAG: "uuid", "v": str(v)}
        if t is set or t is frozenset:
            return {_TAG: "set" if t is set else "fset", "v": [self._enc(x) for x in v]}
        if isinstance(v, BaseModel):
            name = _type_name(t)
            self._types.setdefault(name, t)
            return {_TAG: "pm", "c": name, "v": self._enc(v.model_dump(mode="python"))}
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            name = _type_name(t)
            self._types.setdefault(name, t)
            fields = {f.name: self._enc(getattr(v, f.name)) for f in dataclasses.fields(v) if f.init}
            return {_TAG: "dc", "c": name, "v": fields}
        raise CodecError(
            f"cannot encode {t.__module__}.{t.__qualname__}: supported are JSON types, bytes, tuple, set, "
            "Decimal, datetime/date/time/timedelta, UUID, dataclasses and pydantic models"
        )

    # -- decoding -------------------------------------------------------------------------------
    def loads(self, payload: bytes | str) -> Any:
        """The value `dumps` encoded, with its original type; `CodecError` for anything else."""
        if len(payload) > self.max_bytes:
            raise CodecError(
                f"payload of {len(payload)} bytes is over this codec's max_bytes ({self.max_bytes})"
            )
        try:
            text = payload.decode() if isinstance(payload, bytes) else payload
            # The C scanner without json.loads' wrappers: a third of the time for small payloads.
            tree, end = _SCAN(text, 0)
            if end != len(text):
                raise CodecError(f"cannot decode payload: trailing data at {end}")
            # Plain JSON (no tag anywhere) needs no walk: the common case of str/number/dict payloads.
            return self._dec(tree) if _TAG_MARK in text else tree
        except CodecError:
            raise
        except StopIteration as exc:
            raise CodecError(f"cannot decode payload: invalid JSON at {exc.value}") from None
        except RecursionError:
            raise CodecError("cannot decode payload: nested too deeply") from None
        except Exception as exc:  # a crafted payload must be a miss, whatever broke
            # ArithmeticError (Decimal("abc")), OverflowError (a huge timedelta), AttributeError and
            # IndexError (a wrong shape under a tag), a registered class's own validation error, ...
            raise CodecError(f"cannot decode payload: {type(exc).__name__}: {exc}") from exc

    def _dec(self, v: Any) -> Any:
        t = type(v)
        if t is list:
            return [self._dec(x) for x in v]
        if t is not dict:
            return v
        tag = v.get(_TAG)
        if tag is None:
            return {k: self._dec(x) for k, x in v.items()}
        decoder = _DECODERS.get(tag)
        if decoder is not None:
            out = decoder(self, v["v"])
            return out.replace(fold=1) if v.get("f") else out
        if tag in ("pm", "dc"):
            cls = self._types.get(v["c"])
            if cls is None:
                raise CodecError(f"class {v['c']!r} is not registered with this codec (Codec.register)")
            fields = self._dec(v["v"])
            if tag == "pm":
                return cls.model_validate(fields)  # type: ignore[attr-defined]
            return cls(**fields)
        raise CodecError(f"unknown tag {tag!r}")


_DECODERS: dict[str, Callable[[Codec, Any], Any]] = {
    "map": lambda c, v: {c._dec(k): c._dec(x) for k, x in v},
    "tup": lambda c, v: tuple(c._dec(x) for x in v),
    "b": lambda c, v: base64.b64decode(v, validate=True),
    "dec": lambda c, v: Decimal(v),
    "dt": lambda c, v: dt.datetime.fromisoformat(v),
    "d": lambda c, v: dt.date.fromisoformat(v),
    "tm": lambda c, v: dt.time.fromisoformat(v),
    "td": lambda c, v: dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "uuid": lambda c, v: uuid.UUID(v),
    "set": lambda c, v: {c._dec(x) for x in v},
    "fset": lambda c, v: frozenset(c._dec(x) for x in v),
}


DEFAULT_CODEC = Codec()
