"""The wire contract: the catalog's completeness, its generated docs, the codec's
round trips, and ``decode_request`` refusing bad input with the right code.

Everything here iterates over the catalog (``REQUEST_TYPES``, ``EVENT_TYPES``,
the server frames), so a new message type is covered without editing this file;
:func:`sample` builds a valid value of any struct from its schema.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from protocol import catalog, codec
from protocol.catalog import EVENT_TYPES, REQUEST_TYPES, REQUESTS_BY_TYPE
from protocol.client import Client, GroverError
from protocol.docs import render, server_frames, tag_of
from protocol.errors import CloseCode, ErrorCode, ProtocolError
from protocol.frames import ErrorFrame, Event, EventFrame, ReplyFrame, Request
from protocol.messages import accounts
from protocol.messages import session as wire_session
from server.handlers import HANDLERS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"

DECODE_CODES = {ErrorCode.BAD_FRAME, ErrorCode.UNKNOWN_TYPE, ErrorCode.INVALID_FIELD}
"""The only codes :func:`protocol.codec.decode_request` may raise."""


# ---------------------------------------------------------- sample values

STRING_CANDIDATES = ("abc", "ada@example.com", "https://example.com/a.png", "")
"""Tried in order for a string field that has a ``pattern``: the first that
matches (and fits the length bounds) is used. Extend when a new pattern appears."""


def sample_value(t: mi.Type, *, full: bool) -> Any:
    """A plain (msgpack-ready) value of type ``t`` that satisfies its bounds.
    ``full`` fills optional struct fields too; otherwise they are left out."""
    match t:
        case mi.StrType(min_length=low, max_length=high, pattern=pattern):
            low = low or 0
            if pattern is None:
                text = "x" * max(low, min(3, high if high is not None else 3))
                return text
            for text in STRING_CANDIDATES:
                fits = low <= len(text) <= (high if high is not None else len(text))
                if fits and re.search(pattern, text):
                    return text
            raise AssertionError(f"no sample string matches {pattern!r}: extend STRING_CANDIDATES")
        case mi.IntType():
            low = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else 1)
            high = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else low + 10)
            return min(max(low, 1), high)
        case mi.FloatType():
            start = float(t.ge if t.ge is not None else t.gt + 0.5 if t.gt is not None else 1.0)
            value = start + 0.25
            return value if t.le is None or value <= t.le else start
        case mi.BoolType():
            return True
        case mi.NoneType():
            return None
        case mi.LiteralType(values=values):
            return values[0]
        case mi.ListType() | mi.SetType() | mi.FrozenSetType() | mi.VarTupleType():
            count = max(t.min_length or 0, 1)
            if t.max_length is not None:
                count = min(count, t.max_length)
            return [sample_value(t.item_type, full=full) for _ in range(count)]
        case mi.DictType():
            return {}
        case mi.UnionType(types=members):
            concrete = [m for m in members if not isinstance(m, mi.NoneType)]
            return sample_value(concrete[0], full=full) if concrete else None
        case mi.StructType():
            return sample_map(t, full=full)
        case mi.RawType() | mi.AnyType():
            return {"any": [1, "two"]}
    raise AssertionError(f"sample_value cannot build {t!r}: extend it")


def sample_map(info: mi.StructType, *, full: bool) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if info.tag_field is not None:
        data[info.tag_field] = info.tag
    for field in info.fields:
        if field.required or full:
            data[field.encode_name] = sample_value(field.type, full=full)
    return data


def struct_info(cls: type[msgspec.Struct]) -> mi.StructType:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return info


def sample(cls: type[msgspec.Struct], *, full: bool = True) -> Any:
    """A valid instance of ``cls`` (validated by msgspec while it is built)."""
    return msgspec.convert(sample_map(struct_info(cls), full=full), cls)


def request_map(cls: type[Request], **changes: Any) -> dict[str, Any]:
    data = sample_map(struct_info(cls), full=False)
    data["id"] = 7
    data.update(changes)
    return data


def encode(value: Any) -> bytes:
    return msgspec.msgpack.encode(value)


def refusal(frame: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as raised:
        codec.decode_request(frame)
    return raised.value


# -------------------------------------------------------------------- docs


def test_docs_are_current() -> None:
    assert DOCS.exists(), "docs/protocol.md is missing: run `make docs`"
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "docs/protocol.md is stale: run `make docs` and commit the result"
    )


def test_the_docs_command_prints_render() -> None:
    """``make docs`` runs ``python -m protocol.docs > docs/protocol.md``."""
    result = subprocess.run(
        [sys.executable, "-m", "protocol.docs"],
        cwd=DOCS.parent.parent,
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.decode("utf-8") == render()


def test_docs_cover_the_whole_catalog() -> None:
    text = render()
    for cls in (*REQUEST_TYPES, *EVENT_TYPES, *server_frames()):
        assert f"### `{tag_of(cls)}`" in text, cls
    for code in ErrorCode:
        assert f"| `{code.value}` |" in text, code
    for close in CloseCode:
        assert f"| `{close.value}` |" in text, close
    # Every link points at an anchor of the page.
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    headings = {"framing", "requests", "events", "error-codes", "close-codes", "limits"}
    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert target in anchors or target in headings, target


# ----------------------------------------------------------------- catalog


class _FakeRequest(Request, tag="message.send", kw_only=True):
    """Reuses a catalog request's tag."""


class _FakeEvent(Event, tag="message.send", kw_only=True):
    """Reuses a catalog request's tag, as an event."""


@pytest.mark.parametrize(
    ("requests", "events"),
    [
        ((*REQUEST_TYPES, _FakeRequest), EVENT_TYPES),
        (REQUEST_TYPES, (*EVENT_TYPES, _FakeEvent)),
        (REQUEST_TYPES, (*EVENT_TYPES, EVENT_TYPES[0])),
    ],
    ids=["request-request", "request-event", "event-event"],
)
def test_the_catalog_refuses_a_duplicate_tag(
    requests: tuple[type[Request], ...], events: tuple[type[Event], ...]
) -> None:
    with pytest.raises(ValueError, match="is used by both"):
        catalog.index_by_tag(requests, events)


def test_the_catalog_indexes_every_domain() -> None:
    assert tuple(cls for d in catalog.DOMAINS for cls in d.REQUESTS) == REQUEST_TYPES
    assert tuple(cls for d in catalog.DOMAINS for cls in d.EVENTS) == EVENT_TYPES
    assert {tag_of(cls): cls for cls in REQUEST_TYPES} == REQUESTS_BY_TYPE
    assert {tag_of(cls): cls for cls in EVENT_TYPES} == catalog.EVENTS_BY_TYPE


BARE_NAMES = {"hello", "ping"}
"""The session handshake and keepalive: the only tags without an entity."""


def test_tags_follow_the_naming_rule() -> None:
    """``<entity>.<action>`` (see :mod:`protocol.catalog`), each entity in one domain."""
    domain_of_entity: dict[str, str] = {}
    for domain in catalog.DOMAINS:
        for cls in (*domain.REQUESTS, *domain.EVENTS):
            tag = tag_of(cls)
            if tag in BARE_NAMES:
                assert domain is wire_session, tag
                continue
            assert re.fullmatch(r"[a-z]+\.[a-z]+(_[a-z]+)*", tag), tag
            entity = tag.split(".")[0]
            assert not entity.endswith("s"), f"{tag}: the entity is singular"
            owner = domain_of_entity.setdefault(entity, domain.__name__)
            assert owner == domain.__name__, f"{tag}: {entity!r} also belongs to {owner}"


@pytest.mark.parametrize("cls", REQUEST_TYPES, ids=tag_of)
def test_every_request_has_a_reply_struct_and_a_handler(cls: type[Request]) -> None:
    assert isinstance(cls.reply, type) and issubclass(cls.reply, msgspec.Struct)
    assert not issubclass(cls.reply, Request | Event)
    if cls is wire_session.Hello:
        assert cls not in HANDLERS, "hello is handled by the connection itself"
    else:
        assert cls in HANDLERS, f"no handler for {tag_of(cls)!r} in server.handlers.HANDLERS"


def test_handlers_serve_only_catalog_requests() -> None:
    assert set(HANDLERS) <= set(REQUEST_TYPES)


# ------------------------------------------------------------ round trips


@pytest.mark.parametrize("full", [True, False], ids=["all-fields", "required-only"])
@pytest.mark.parametrize("cls", REQUEST_TYPES, ids=tag_of)
def test_request_round_trip(cls: type[Request], full: bool) -> None:
    data = sample_map(struct_info(cls), full=full)
    request = codec.decode_request(encode(data))
    assert type(request) is cls
    assert request == msgspec.convert(data, cls)
    assert codec.decode_request(codec.encode_request(request)) == request


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=tag_of)
def test_event_round_trip(cls: type[Event]) -> None:
    event = sample(cls)
    body = codec.encode_event_body(event)
    assert codec.decode_event(body) == event
    frame = codec.decode_server_frame(codec.encode_event_frame(42, body))
    assert isinstance(frame, EventFrame)
    assert frame.seq == 42
    assert codec.decode_event(frame.event) == event


@pytest.mark.parametrize("cls", REQUEST_TYPES, ids=tag_of)
def test_reply_round_trip(cls: type[Request]) -> None:
    reply = sample(cls.reply)
    frame = codec.decode_server_frame(codec.encode_reply(99, reply))
    assert isinstance(frame, ReplyFrame)
    assert frame.id == 99
    assert codec.decode_reply_data(cls, frame.data) == reply


@pytest.mark.parametrize("request_id", [5, None])
def test_error_frame_round_trip(request_id: int | None) -> None:
    raw = codec.encode_error(request_id, ErrorCode.RATE_LIMITED, "slow down", 1.5)
    frame = codec.decode_server_frame(raw)
    assert frame == ErrorFrame(
        id=request_id, code="rate_limited", message="slow down", retry_after=1.5
    )


# ------------------------------------------------------- decode refusals


@pytest.mark.parametrize(
    "frame",
    [b"", b"\xc1", b"\x82\xa4type", b"\xff\x00garbage", encode([1, 2]), encode("ping"),
     encode(5), encode(None), encode(b"\x81")],
    ids=["empty", "never-used-byte", "truncated", "garbage", "array", "string", "int",
         "nil", "bin"],
)  # fmt: skip
def test_garbage_and_non_maps_are_bad_frames(frame: bytes) -> None:
    error = refusal(frame)
    assert error.code is ErrorCode.BAD_FRAME
    assert error.request_id is None


@pytest.mark.parametrize(
    ("data", "request_id"),
    [({"id": 3}, 3), ({"type": "nope", "id": 4}, 4), ({"type": 5, "id": 5}, 5),
     ({"type": None}, None), ({"type": "Ping", "id": 6}, 6), ({"type": "x" * 5000}, None)],
    ids=["no-type", "unknown", "not-a-string", "nil", "wrong-case", "long"],
)  # fmt: skip
def test_unknown_types(data: dict[str, Any], request_id: int | None) -> None:
    error = refusal(encode(data))
    assert error.code is ErrorCode.UNKNOWN_TYPE
    assert error.request_id == request_id
    assert len(error.message) <= 200


@pytest.mark.parametrize("cls", REQUEST_TYPES, ids=tag_of)
def test_missing_extra_and_mistyped_fields(cls: type[Request]) -> None:
    info = struct_info(cls)
    for field in info.fields:
        if field.required and field.name != "id":
            data = request_map(cls)
            del data[field.encode_name]
            error = refusal(encode(data))
            assert (error.code, error.request_id) == (ErrorCode.INVALID_FIELD, 7), field.name
            assert field.encode_name in error.message

    error = refusal(encode(request_map(cls, surplus=1)))
    assert (error.code, error.request_id) == (ErrorCode.INVALID_FIELD, 7)
    assert "surplus" in error.message

    for field in info.fields:
        if field.name != "id":
            error = refusal(encode(request_map(cls, **{field.encode_name: {"a": "map"}})))
            assert (error.code, error.request_id) == (ErrorCode.INVALID_FIELD, 7), field.name


@pytest.mark.parametrize("bad_id", [-1, 2**53, "7", 1.5, True, None, [7]])
def test_bad_request_ids(bad_id: Any) -> None:
    error = refusal(encode({"type": "ping", "id": bad_id}))
    assert error.code is ErrorCode.INVALID_FIELD
    assert error.request_id is None


def _bounded(t: mi.Type) -> list[mi.StrType | mi.ListType | mi.IntType | mi.FloatType]:
    """The bounded members of ``t`` (itself, or inside ``X | None``)."""
    members = t.types if isinstance(t, mi.UnionType) else (t,)
    return [
        m for m in members if isinstance(m, mi.StrType | mi.ListType | mi.IntType | mi.FloatType)
    ]


def _over_bounds(t: mi.StrType | mi.ListType | mi.IntType | mi.FloatType) -> list[Any]:
    """Values of type ``t`` just outside each of its bounds."""
    values: list[Any] = []
    if isinstance(t, mi.StrType):
        if t.max_length is not None:
            values.append("a" * (t.max_length + 1))
        if t.min_length:
            values.append("a" * (t.min_length - 1))
    elif isinstance(t, mi.ListType):
        item = sample_value(t.item_type, full=False)
        if t.max_length is not None:
            values.append([item] * (t.max_length + 1))
        if t.min_length:
            values.append([item] * (t.min_length - 1))
    else:
        step = 1 if isinstance(t, mi.IntType) else 0.5
        if t.le is not None:
            values.append(t.le + step)
        if t.ge is not None:
            values.append(t.ge - step)
    return values


@pytest.mark.parametrize("cls", REQUEST_TYPES, ids=tag_of)
def test_values_out_of_bounds_are_invalid_fields(cls: type[Request]) -> None:
    checked = 0
    for field in struct_info(cls).fields:
        if field.name == "id":
            continue
        for bounded in _bounded(field.type):
            for value in _over_bounds(bounded):
                error = refusal(encode(request_map(cls, **{field.encode_name: value})))
                assert (error.code, error.request_id) == (ErrorCode.INVALID_FIELD, 7), (
                    field.name,
                    value if len(repr(value)) < 80 else type(value),
                )
                checked += 1
    if cls is accounts.Register:
        assert checked >= 6  # the helper really exercises bounds


def test_a_pattern_mismatch_is_an_invalid_field() -> None:
    frame = encode(request_map(accounts.Register, username="no spaces allowed"))
    assert refusal(frame).code is ErrorCode.INVALID_FIELD


# -------------------------------------------------------------------- fuzz


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    """A random msgpack-encodable value, biased toward the catalog's own keys
    and tags so that some inputs get past the first checks."""
    roll = rng.random()
    if depth > 3 or roll < 0.45:
        return rng.choice(
            [
                None,
                True,
                False,
                rng.randint(-(2**63), 2**64 - 1),
                rng.randint(-3, 300),
                rng.uniform(-1e9, 1e9),
                float("nan"),
                "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(0, 12))),
                rng.choice(TAGS),
                rng.randbytes(rng.randint(0, 12)),
                "x" * rng.randint(0, 300),
            ]
        )
    if roll < 0.6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    data: dict[Any, Any] = {}
    if rng.random() < 0.7:
        data["type"] = rng.choice(TAGS) if rng.random() < 0.8 else _random_value(rng, depth + 1)
    if rng.random() < 0.7:
        data["id"] = rng.choice([rng.randint(0, 100), -1, "1", None, 2**53])
    for _ in range(rng.randint(0, 5)):
        key = rng.choice(FIELD_NAMES) if rng.random() < 0.8 else _random_value(rng, 4)
        try:
            hash(key)
        except TypeError:
            continue
        data[key] = _random_value(rng, depth + 1)
    return data


TAGS = [tag_of(cls) for cls in REQUEST_TYPES] + ["", "nope", "PING"]
FIELD_NAMES = sorted(
    {f.encode_name for cls in REQUEST_TYPES for f in struct_info(cls).fields}
    | {"session_id", "last_seq", "surplus"}
)


def _check_decode(frame: bytes) -> None:
    """``decode_request`` returns a catalog request or raises a decode-time
    ``ProtocolError`` with a readable id or none."""
    try:
        request = codec.decode_request(frame)
    except ProtocolError as exc:
        assert exc.code in DECODE_CODES
        assert exc.request_id is None or 0 <= exc.request_id < 2**53
    else:
        assert isinstance(request, REQUEST_TYPES)


def _check_all(frames: Iterable[bytes]) -> None:
    for frame in frames:
        _check_decode(frame)


def _random_frames(rng: random.Random) -> Iterator[bytes]:
    valid = [encode(request_map(cls)) for cls in REQUEST_TYPES]
    for _ in range(3000):
        yield rng.randbytes(rng.randint(0, 64))
    for _ in range(3000):
        # Mutations of valid frames reach much deeper into the decoder.
        frame = bytearray(rng.choice(valid))
        for _ in range(rng.randint(1, 4)):
            frame[rng.randrange(len(frame))] = rng.randrange(256)
        if rng.random() < 0.3:
            del frame[rng.randrange(len(frame)) :]
        yield bytes(frame)


def test_fuzz_random_bytes_only_ever_raise_protocol_error() -> None:
    _check_all(_random_frames(random.Random(20240601)))


def _random_values(rng: random.Random) -> Iterator[bytes]:
    for _ in range(4000):
        value = _random_value(rng)
        yield encode(value)
        if isinstance(value, dict):
            # And a valid request with one random field value swapped in.
            data = request_map(rng.choice(REQUEST_TYPES))
            data[rng.choice(list(data))] = value
            yield encode(data)


def test_fuzz_random_msgpack_values_only_ever_raise_protocol_error() -> None:
    _check_all(_random_values(random.Random(1337)))


def test_the_fuzz_baseline_is_valid() -> None:
    """The generator's unmutated frames decode: the fuzz starts from valid input."""
    for cls in REQUEST_TYPES:
        assert type(codec.decode_request(encode(request_map(cls)))) is cls


def test_invalid_utf8_is_refused() -> None:
    """msgspec raises ``UnicodeDecodeError`` (not ``DecodeError``) for a bad
    string; without it in ``codec._UNDECODABLE`` this escapes as a crash."""
    good = encode(request_map(accounts.GetProfile, user_id="ab"))
    bad = good.replace(encode("ab"), b"\xa2\xff\xfe")  # same length, not UTF-8
    assert bad != good and type(codec.decode_request(good)) is accounts.GetProfile
    error = refusal(bad)
    assert (error.code, error.request_id) == (ErrorCode.INVALID_FIELD, 7)
    assert "utf-8" in error.message


@pytest.mark.parametrize("key", ["id", "surplus"])
def test_deeply_nested_values_are_refused(key: str) -> None:
    frame = b"\x82\xa4type\xa4ping" + encode(key) + b"\x91" * 2000 + b"\xc0"
    assert len(frame) < 4096
    _check_decode(frame)


# --------------------------------------------------------------------- SDK


def test_sdk_errors_carry_the_code_as_its_enum() -> None:
    known = GroverError("not_found", "no such conversation")
    assert known.code is ErrorCode.NOT_FOUND
    # A code from a newer server is kept as sent, not lost or raised.
    future = GroverError("some_future_code", "?")
    assert future.code == "some_future_code" and not isinstance(future.code, ErrorCode)


def test_sdk_skips_an_unknown_event_type_but_not_a_broken_known_one() -> None:
    client = Client()
    future = msgspec.Raw(encode({"type": "thing.happened", "what": 1}))
    client._dispatch(EventFrame(seq=1, event=future))
    assert (client.pending_events(), client.last_seq) == (0, 1)
    broken = msgspec.Raw(encode({"type": "receipt.read", "seq": "not a number"}))
    with pytest.raises(msgspec.ValidationError):
        client._dispatch(EventFrame(seq=2, event=broken))
