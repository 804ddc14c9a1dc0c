"""The codec keeps types and never runs code while decoding."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from pytest_oxbot.cache import Codec, CodecError, make_key


@dataclasses.dataclass(frozen=True)
class Position:
    symbol: str
    size: Decimal
    opened: dt.datetime


class Decision(BaseModel):
    symbol: str
    action: str
    confidence: Decimal
    at: dt.datetime


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.none() | st.just(dt.UTC))
    | st.dates()
    | st.uuids()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.dictionaries(st.integers(), inner, max_size=3)
    ),
    max_leaves=12,
)


def same(a: object, b: object) -> bool:
    """Equal AND of the same types all the way down (repr tells 1 from 1.0 and Decimal('1.10'))."""
    return repr(a) == repr(b)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_round_trip_keeps_value_and_type(value: object) -> None:
    codec = Codec()
    assert same(codec.loads(codec.dumps(value)), value)


def test_models_and_dataclasses_round_trip() -> None:
    codec = Codec([Position, Decision])
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    value = {
        "pos": Position("BTCUSDT", Decimal("0.010"), when),
        "decision": Decision(symbol="ETHUSDT", action="BUY", confidence=Decimal("0.75"), at=when),
        "misc": (b"\x00\xff", {1, 2}, frozenset({"a"}), dt.timedelta(seconds=90), uuid.UUID(int=7)),
        "__t": "a user key that looks like our tag",
    }
    back = codec.loads(codec.dumps(value))
    assert back == value
    assert type(back["pos"].size) is Decimal
    assert back["decision"].confidence == Decimal("0.75")


def test_payload_is_plain_json_not_pickle() -> None:
    payload = Codec().dumps({"p": Decimal("1.5")})
    assert json.loads(payload) == {"p": {"__t": "dec", "v": "1.5"}}


def test_unregistered_class_is_refused_not_imported() -> None:
    """A payload naming a class cannot make the decoder import or build it: that is pickle's flaw."""
    hostile = json.dumps({"__t": "dc", "c": "os:system", "v": {"command": "echo pwned"}}).encode()
    with pytest.raises(CodecError, match="not registered"):
        Codec().loads(hostile)


def test_unsupported_type_names_the_type() -> None:
    with pytest.raises(CodecError, match="object"):
        Codec().dumps(object())


def test_make_key_is_stable_typed_and_order_free() -> None:
    assert make_key("ticker", "BTC", tf="1h", n=5) == make_key("ticker", "BTC", n=5, tf="1h")
    assert make_key("x", 1) != make_key("x", "1") != make_key("x", Decimal("1"))
    assert make_key("x", 1).startswith("x:")
    with pytest.raises(ValueError, match="name"):
        make_key("")


def test_make_key_is_the_same_in_another_process() -> None:
    """`hash()` is salted per process; our key must not be."""
    code = (
        "from decimal import Decimal; from pytest_oxbot.cache import make_key; "
        "print(make_key('k', 'BTC', Decimal('1.5')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123"},
    )
    assert out.stdout.strip() == make_key("k", "BTC", Decimal("1.5"))
