"""Edges of the wire format: integers beyond what the stores hold, duplicate
keys, non-string keys and bytes after the map. Derived from the catalog, so a
new request or field is covered without editing this file."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from protocol import codec, limits
from protocol.catalog import REQUEST_TYPES
from protocol.docs import tag_of
from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import Request
from protocol.messages import accounts
from tests.conftest import Connect, register
from tests.test_gateway import RawConnect, frame, raw_connect, raw_hello, recv_frame
from tests.test_protocol import sample_map, struct_info

__all__ = ["raw_connect"]  # the fixture, used by the tests below

TOO_BIG = (2**63, 2**64 - 1)
"""Integers msgpack can carry that no store can hold (2**64 itself is not a
msgpack integer at all: encoders refuse it, so it is sent as a float)."""


def int_paths(info: mi.StructType) -> Iterator[tuple[list[str | int], mi.IntType]]:
    """Every integer in a struct's schema, with the path to reach it in a
    sample map (field names; 0 for the first item of a list)."""

    def walk(t: mi.Type, path: list[str | int]) -> Iterator[tuple[list[str | int], mi.IntType]]:
        match t:
            case mi.IntType():
                yield path, t
            case mi.UnionType(types=members):
                for member in members:
                    yield from walk(member, path)
            case mi.ListType(item_type=item) | mi.VarTupleType(item_type=item):
                yield from walk(item, [*path, 0])
            case mi.StructType(fields=fields):
                for field in fields:
                    yield from walk(field.type, [*path, field.encode_name])

    for field in info.fields:
        if field.name != "id":  # bounded by MAX_REQUEST_ID, tested elsewhere
            yield from walk(field.type, [field.encode_name])


def with_value(cls: type[Request], path: list[str | int], value: Any) -> dict[str, Any]:
    """A valid request map of ``cls`` (every optional field filled, so nested
    structs exist) with ``value`` placed at ``path``."""
    data = sample_map(struct_info(cls), full=True)
    data["id"] = 7
    target: Any = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return data


def with_float(cls: type[Request], path: list[str | int], number: float) -> bytes:
    """Like :func:`with_value`, encoded, with a msgpack float64 at ``path``:
    how a client could send ``2**64``, which has no integer encoding."""
    marker = -123456789123  # an integer no sample uses, swapped for the float's bytes
    encoded = msgspec.msgpack.encode(with_value(cls, path, marker))
    int_bytes = msgspec.msgpack.encode(marker)
    assert encoded.count(int_bytes) == 1
    return encoded.replace(int_bytes, b"\xcb" + struct.pack(">d", number))


INT_FIELDS = [(cls, path) for cls in REQUEST_TYPES for path, _ in int_paths(struct_info(cls))]


def test_the_catalog_has_integer_fields_to_check() -> None:
    tags = {tag_of(cls) for cls, _ in INT_FIELDS}
    assert {"message.since", "message.history", "hello", "conversation.mark_read"} <= tags


@pytest.mark.parametrize("cls", REQUEST_TYPES, ids=tag_of)
def test_every_integer_field_is_bounded_by_what_the_stores_hold(cls: type[Request]) -> None:
    for path, int_type in int_paths(struct_info(cls)):
        assert int_type.le is not None and int_type.le <= limits.MAX_INT, path
        assert int_type.ge is not None and int_type.ge >= -limits.MAX_INT - 1, path


@pytest.mark.parametrize(
    ("cls", "path"), INT_FIELDS, ids=[f"{tag_of(c)}:{'.'.join(map(str, p))}" for c, p in INT_FIELDS]
)
def test_integers_beyond_the_stores_are_invalid_fields(
    cls: type[Request], path: list[str | int]
) -> None:
    for value in TOO_BIG:
        with pytest.raises(ProtocolError) as refused:
            codec.decode_request(msgspec.msgpack.encode(with_value(cls, path, value)))
        assert (refused.value.code, refused.value.request_id) == (ErrorCode.INVALID_FIELD, 7)
    with pytest.raises(ProtocolError) as refused:
        codec.decode_request(with_float(cls, path, 2.0**64))
    assert (refused.value.code, refused.value.request_id) == (ErrorCode.INVALID_FIELD, 7)
    # The field's own upper bound (MAX_INT for seqs) is still valid.
    (upper,) = [t.le for p, t in int_paths(struct_info(cls)) if p == path]
    codec.decode_request(msgspec.msgpack.encode(with_value(cls, path, upper)))


@pytest.mark.parametrize("field", ["after_seq", "before_seq"])
async def test_a_huge_seq_over_the_socket_is_invalid_field_not_internal(
    field: str, connect: Connect, raw_connect: RawConnect
) -> None:
    owner, other = await connect(), await connect()
    auth = await register(owner)
    peer = await register(other)
    conv = await owner.request("conversation.open_direct", user_id=peer.user.id)
    request_type = "message.since" if field == "after_seq" else "message.history"
    ws = await raw_connect()
    await raw_hello(ws, token=auth.token)
    for request_id, value in enumerate(TOO_BIG, start=2):
        await ws.send(
            frame(type=request_type, id=request_id, conversation_id=conv.id, **{field: value})
        )
        error = await recv_frame(ws)
        assert (error.id, error.code) == (request_id, ErrorCode.INVALID_FIELD), error
    # MAX_INT itself is served.
    await ws.send(
        frame(type=request_type, id=9, conversation_id=conv.id, **{field: limits.MAX_INT})
    )
    assert (await recv_frame(ws)).id == 9


# ------------------------------------------------------------------ maps


def raw_map(*pairs: tuple[Any, Any]) -> bytes:
    """A msgpack map written pair by pair, so that keys may repeat."""
    assert len(pairs) < 16
    body = b"".join(msgspec.msgpack.encode(k) + msgspec.msgpack.encode(v) for k, v in pairs)
    return bytes([0x80 | len(pairs)]) + body


def test_a_key_given_twice_counts_once_with_its_last_value() -> None:
    request = codec.decode_request(
        raw_map(("type", "profile.update"), ("id", 3), ("bio", "first"), ("bio", "last"))
    )
    assert isinstance(request, accounts.UpdateProfile) and request.bio == "last"
    request = codec.decode_request(raw_map(("type", "ping"), ("id", 3), ("id", 4)))
    assert request.id == 4


def test_a_type_given_twice_must_name_the_same_struct() -> None:
    same = codec.decode_request(raw_map(("type", "ping"), ("id", 3), ("type", "ping")))
    assert same.id == 3
    for first, second in (("ping", "profile.update"), ("profile.update", "ping")):
        with pytest.raises(ProtocolError) as refused:
            codec.decode_request(raw_map(("type", first), ("id", 3), ("type", second)))
        assert refused.value.code is ErrorCode.INVALID_FIELD


@pytest.mark.parametrize(
    "sent",
    [
        raw_map(("type", "ping"), ("id", 3), (5, 1)),
        raw_map(("type", "ping"), ("id", 3), (b"bytes", 1)),
        raw_map(("type", "ping"), ("id", 3), (None, 1)),
        msgspec.msgpack.encode({"type": "ping", "id": 3}) + b"\x00",
        msgspec.msgpack.encode({"type": "ping", "id": 3}) * 2,
    ],
    ids=["int key", "bytes key", "nil key", "trailing byte", "two maps"],
)
def test_non_string_keys_and_bytes_after_the_map_are_bad_frames(sent: bytes) -> None:
    with pytest.raises(ProtocolError) as refused:
        codec.decode_request(sent)
    assert refused.value.code is ErrorCode.BAD_FRAME
    assert refused.value.request_id is None


async def test_bytes_after_the_map_over_the_socket_change_nothing(
    connect: Connect, raw_connect: RawConnect
) -> None:
    owner = await connect()
    auth = await register(owner)
    ws = await raw_connect()
    await raw_hello(ws, token=auth.token)
    smuggled = frame(type="profile.update", id=2, bio="one") + frame(
        type="profile.update", id=3, bio="two"
    )
    await ws.send(smuggled)
    error = await recv_frame(ws)
    assert error.code == ErrorCode.BAD_FRAME
    me = await owner.request("profile.get", user_id=auth.user.id)
    assert me.bio == ""
