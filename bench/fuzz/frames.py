"""Fuzz frames: valid requests of every catalog type, structure-aware
mutations of them and random input (:func:`fuzz_frame`), and the oracle that
judges what the codec makes of one (:func:`check_decode`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from msgspec import inspect as mi

from bench.fuzz.values import (
    EXT_VALUES,
    HUGE_HEADERS,
    INT64_MIN,
    INVALID_UTF8,
    PATTERN_BREAKERS,
    UINT64_MAX,
    USERNAME_CHARS,
    WRONG_KINDS,
    Chooser,
    Context,
    Items,
    Unsupported,
    chance,
    encode_map,
    fits_kind,
    int_bounds,
    list_bounds,
    nested,
    noncanonical,
    pick,
    str_bounds,
    str_header,
    struct_items,
    text,
    unwrap,
    valid_value,
)
from protocol import codec, limits
from protocol.catalog import EVENTS_BY_TYPE, REQUEST_TYPES, REQUESTS_BY_TYPE
from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import Request

DECODE_CODES = frozenset({ErrorCode.BAD_FRAME, ErrorCode.UNKNOWN_TYPE, ErrorCode.INVALID_FIELD})
"""The only codes :func:`protocol.codec.decode_request` may refuse a frame with."""


@dataclass(frozen=True)
class Fuzzed:
    """One fuzzed frame and what is known for sure about its fate."""

    data: bytes
    request_type: str | None
    """The catalog tag the frame was derived from (None for random input)."""
    mutation: str
    """``valid``, ``stale_id`` or the name of the mutation applied."""
    valid: bool = False
    """Must decode, to ``request_type``, with ``fields``."""
    fields: dict[str, Any] = field(default_factory=dict)
    code: ErrorCode | None = None
    """When set, decoding must fail with exactly this code."""
    request_id: int | None = None
    """When set along with ``code``: the id the error must name."""

    def describe(self) -> str:
        shown = self.data if len(self.data) <= 200 else self.data[:200] + b"..."
        return (
            f"{self.mutation} of {self.request_type} ({len(self.data)} bytes): "
            f"bytes.fromhex({shown.hex()!r})"
        )


# -------------------------------------------------------------- mutations


@dataclass
class Draft:
    """A valid request being mutated."""

    info: mi.StructType
    items: Items
    ctx: Context

    @property
    def tag(self) -> str:
        return str(self.info.tag)

    def field_types(self) -> dict[str, mi.Type]:
        return {f.encode_name: f.type for f in self.info.fields}

    def present(self, predicate: Callable[[mi.Type], bool]) -> list[int]:
        """Indexes of items (not ``type``) whose field type has a member
        matching ``predicate``."""
        types = self.field_types()
        return [
            i
            for i, (k, _) in enumerate(self.items)
            if k in types and any(predicate(m) for m in unwrap(types[k]))
        ]

    def id_value(self) -> int | None:
        ids = [v for k, v in self.items if k == "id"]
        return ids[-1] if ids and isinstance(ids[-1], int) else None

    def done(
        self, mutation: str, code: ErrorCode | None = None, *, keeps_id: bool = True
    ) -> Fuzzed:
        data = encode_map(self.items)
        return Fuzzed(
            data,
            self.tag,
            mutation,
            code=code,
            request_id=self.id_value() if keeps_id and code is not None else None,
        )


Mutation = Callable[[Chooser, Draft], Fuzzed | None]
"""Mutates a draft; ``None`` when it does not apply to this request type."""


def m_wrong_type(ch: Chooser, d: Draft) -> Fuzzed | None:
    i = ch.integer(0, len(d.items) - 1)
    key, _ = d.items[i]
    value = pick(ch, WRONG_KINDS)
    d.items[i] = (key, value)
    if key == "type":
        known = isinstance(value, str) and value in REQUESTS_BY_TYPE
        return d.done("wrong_type", None if known else ErrorCode.UNKNOWN_TYPE)
    t = d.field_types()[key]
    if fits_kind(value, t):
        return d.done("wrong_type")
    return d.done("wrong_type", ErrorCode.INVALID_FIELD, keeps_id=key != "id")


def m_int_out_of_bounds(ch: Chooser, d: Draft) -> Fuzzed | None:
    fields = d.present(
        lambda t: isinstance(t, mi.IntType) and int_bounds(t) != (INT64_MIN, UINT64_MAX)
    )
    if not fields:
        return None
    i = pick(ch, fields)
    key = d.items[i][0]
    t = next(m for m in unwrap(d.field_types()[key]) if isinstance(m, mi.IntType))
    lo, hi = int_bounds(t)
    candidates = [lo - 1, hi + 1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, UINT64_MAX, INT64_MIN, -1]
    outside = [v for v in candidates if INT64_MIN <= v <= UINT64_MAX and not lo <= v <= hi]
    if not outside:
        return None
    d.items[i] = (key, pick(ch, outside))
    return d.done("int_out_of_bounds", ErrorCode.INVALID_FIELD, keeps_id=key != "id")


def m_string_bounds(ch: Chooser, d: Draft) -> Fuzzed | None:
    fields = d.present(
        lambda t: isinstance(t, mi.StrType) and (t.max_length is not None or bool(t.min_length))
    )
    if not fields:
        return None
    i = pick(ch, fields)
    key = d.items[i][0]
    t = next(m for m in unwrap(d.field_types()[key]) if isinstance(m, mi.StrType))
    lengths = []
    if t.max_length is not None:
        lengths += [t.max_length + 1, t.max_length + ch.integer(2, 64), t.max_length * 2 + 1]
    if t.min_length:
        lengths.append(ch.integer(0, t.min_length - 1))
    n = pick(ch, lengths)
    d.items[i] = (key, text(ch, n, n, pick(ch, (USERNAME_CHARS, "é", "😀", "x"))))
    return d.done("string_bounds", ErrorCode.INVALID_FIELD)


def m_pattern(ch: Chooser, d: Draft) -> Fuzzed | None:
    fields = d.present(lambda t: isinstance(t, mi.StrType) and t.pattern is not None)
    if not fields:
        return None
    i = pick(ch, fields)
    key = d.items[i][0]
    t = next(m for m in unwrap(d.field_types()[key]) if isinstance(m, mi.StrType))
    assert t.pattern is not None
    value = pick(ch, PATTERN_BREAKERS)
    if isinstance(d.items[i][1], str) and chance(ch, 50):
        base = d.items[i][1]
        at = ch.integer(0, len(base))
        value = base[:at] + pick(ch, (" ", "\n", "@", "é", "..")) + base[at:]
    d.items[i] = (key, value)
    lo, hi = str_bounds(t)
    sure = re.search(t.pattern, value) is None or not lo <= len(value) <= hi
    return d.done("pattern", ErrorCode.INVALID_FIELD if sure else None)


def m_list_bounds(ch: Chooser, d: Draft) -> Fuzzed | None:
    fields = d.present(lambda t: isinstance(t, mi.ListType))
    if not fields:
        return None
    i = pick(ch, fields)
    key = d.items[i][0]
    t = next(m for m in unwrap(d.field_types()[key]) if isinstance(m, mi.ListType))
    lo, hi = list_bounds(t)
    lengths = [hi + 1, hi + ch.integer(2, 40)] if t.max_length is not None else []
    if lo > 0:
        lengths.append(lo - 1)
    if not lengths:
        return None
    item = valid_value(ch, t.item_type, d.ctx)
    d.items[i] = (key, [item] * pick(ch, lengths))
    return d.done("list_bounds", ErrorCode.INVALID_FIELD)


def m_missing_field(ch: Chooser, d: Draft) -> Fuzzed | None:
    required = {f.encode_name for f in d.info.fields if f.required} | {"type"}
    indexes = [i for i, (k, _) in enumerate(d.items) if k in required]
    i = pick(ch, indexes)
    key = d.items.pop(i)[0]
    if key == "type":
        return d.done("missing_field", ErrorCode.UNKNOWN_TYPE)
    return d.done("missing_field", ErrorCode.INVALID_FIELD)


def m_extra_field(ch: Chooser, d: Draft) -> Fuzzed | None:
    known = set(d.field_types()) | {"type"}
    name = pick(ch, [*_ALL_FIELD_NAMES, "is_admin", "__proto__", "", "Type", "ID", text(ch, 1, 12)])
    value = pick(ch, WRONG_KINDS)
    nested_at = [i for i, (_, v) in enumerate(d.items) if isinstance(v, dict)]
    if nested_at and chance(ch, 30):
        i = pick(ch, nested_at)
        inner = dict(d.items[i][1])
        key = f"x_{name}"
        inner[key] = value
        d.items[i] = (d.items[i][0], inner)
        return d.done("extra_field", ErrorCode.INVALID_FIELD)
    d.items.insert(ch.integer(0, len(d.items)), (name, value))
    return d.done("extra_field", ErrorCode.INVALID_FIELD if name not in known else None)


def m_unknown_type(ch: Chooser, d: Draft) -> Fuzzed | None:
    tag = d.tag
    choices: list[Any] = [
        tag.upper(),
        tag + " ",
        " " + tag,
        tag + "\x00",
        tag.replace(".", "_"),
        tag.rpartition(".")[0] or tag + ".",
        "",
        "reply",
        "error",
        "event",
        "admin.delete_everything",
        *EVENTS_BY_TYPE,
        text(ch, 0, 40),
        7,
        None,
        1.5,
        True,
        b"ping",
    ]
    value = pick(ch, choices)
    d.items = [("type", value) if k == "type" else (k, v) for k, v in d.items]
    sure = not isinstance(value, str) or value not in REQUESTS_BY_TYPE
    return d.done("unknown_type", ErrorCode.UNKNOWN_TYPE if sure else None)


def m_non_string_key(ch: Chooser, d: Draft) -> Fuzzed | None:
    key = pick(ch, (0, -1, 2**64 - 1, 1.5, None, True, b"type", (1, 2), ()))
    d.items.insert(ch.integer(0, len(d.items)), (key, pick(ch, WRONG_KINDS)))
    return d.done("non_string_key")


def m_duplicate_key(ch: Chooser, d: Draft) -> Fuzzed | None:
    key, _ = pick(ch, d.items)
    value = pick(ch, WRONG_KINDS) if chance(ch, 60) else pick(ch, d.items)[1]
    d.items.insert(ch.integer(0, len(d.items)), (key, value))
    return d.done("duplicate_key")


def m_invalid_utf8(ch: Chooser, d: Draft) -> Fuzzed | None:
    bad = text(ch, 0, 4, "abc").encode() + pick(ch, INVALID_UTF8) + text(ch, 0, 4, "abc").encode()
    raw = msgspec.Raw(str_header(len(bad)) + bad)
    i = ch.integer(0, len(d.items) - 1)
    key, value = d.items[i]
    if chance(ch, 30):
        d.items.insert(i, (raw, value))  # as a key
    else:
        d.items[i] = (key, raw)
    return d.done("invalid_utf8")


def m_deep_nesting(ch: Chooser, d: Draft) -> Fuzzed | None:
    depth = pick(ch, (8, 64, 512, 4096, 30000, 60000))
    deep = nested(depth, as_maps=chance(ch, 40) and depth <= 20000)
    i = ch.integer(0, len(d.items))
    if i == len(d.items):
        d.items.append((text(ch, 1, 8, "xyz"), deep))
    else:
        d.items[i] = (d.items[i][0], deep)
    return d.done("deep_nesting")


def m_ext_value(ch: Chooser, d: Draft) -> Fuzzed | None:
    i = ch.integer(0, len(d.items) - 1)
    d.items[i] = (d.items[i][0], msgspec.Raw(pick(ch, EXT_VALUES)))
    return d.done("ext_value")


def m_huge_header(ch: Chooser, d: Draft) -> Fuzzed | None:
    i = ch.integer(0, len(d.items) - 1)
    d.items[i] = (d.items[i][0], msgspec.Raw(pick(ch, HUGE_HEADERS) + ch.raw(0, 16)))
    # Whatever follows, the frame ends long before the claimed length.
    return d.done("huge_header", ErrorCode.BAD_FRAME, keeps_id=False)


def m_trailing_bytes(ch: Chooser, d: Draft) -> Fuzzed | None:
    data = encode_map(d.items) + ch.raw(1, 32)
    return Fuzzed(data, d.tag, "trailing_bytes", code=ErrorCode.BAD_FRAME)


def m_truncated(ch: Chooser, d: Draft) -> Fuzzed | None:
    data = encode_map(d.items)
    data = data[: ch.integer(0, len(data) - 1)]
    return Fuzzed(data, d.tag, "truncated", code=ErrorCode.BAD_FRAME)


def m_byte_damage(ch: Chooser, d: Draft) -> Fuzzed | None:
    data = bytearray(encode_map(d.items))
    for _ in range(ch.integer(1, 4)):
        at = ch.integer(0, len(data))
        way = ch.integer(0, 3)
        if way == 0 and at < len(data):
            data[at] ^= 1 << ch.integer(0, 7)
        elif way == 1:
            data[at:at] = ch.raw(1, 8)
        elif way == 2 and at < len(data):
            del data[at : at + ch.integer(1, 8)]
        elif at < len(data):
            data[at] = pick(ch, (0x00, 0x7F, 0x80, 0xC0, 0xC1, 0xD9, 0xDC, 0xDF, 0xFF))
    return Fuzzed(bytes(data), d.tag, "byte_damage")


def m_oversized(ch: Chooser, d: Draft) -> Fuzzed | None:
    if not d.ctx.allow_oversized:
        return None
    d.items.append(("pad", "x" * (limits.MAX_FRAME_BYTES + ch.integer(0, 1024))))
    return d.done("oversized", ErrorCode.INVALID_FIELD)


def m_stale_id(ch: Chooser, d: Draft) -> Fuzzed | None:
    """A valid frame whose id does not increase (a server refuses it with
    ``duplicate_request_id``; the codec accepts it)."""
    current = d.id_value() or 0
    stale = pick(ch, (0, max(0, current - 1), current // 2))
    d.items = [("id", stale) if k == "id" else (k, v) for k, v in d.items]
    return Fuzzed(encode_map(d.items), d.tag, "stale_id", valid=True, fields=plain(d.items))


MUTATIONS: dict[str, Mutation] = {
    "wrong_type": m_wrong_type,
    "int_out_of_bounds": m_int_out_of_bounds,
    "string_bounds": m_string_bounds,
    "pattern": m_pattern,
    "list_bounds": m_list_bounds,
    "missing_field": m_missing_field,
    "extra_field": m_extra_field,
    "unknown_type": m_unknown_type,
    "non_string_key": m_non_string_key,
    "duplicate_key": m_duplicate_key,
    "invalid_utf8": m_invalid_utf8,
    "deep_nesting": m_deep_nesting,
    "ext_value": m_ext_value,
    "huge_header": m_huge_header,
    "trailing_bytes": m_trailing_bytes,
    "truncated": m_truncated,
    "byte_damage": m_byte_damage,
    "oversized": m_oversized,
    "stale_id": m_stale_id,
}


def plain(items: Items) -> dict[str, Any]:
    return {k: v for k, v in items if k not in ("type",)}


def random_value(ch: Chooser, depth: int = 0) -> Any:
    way = ch.integer(0, 8 if depth < 3 else 5)
    if way == 0:
        return ch.integer(INT64_MIN, UINT64_MAX)
    if way == 1:
        return text(ch, 0, 20)
    if way == 2:
        return ch.raw(0, 16)
    if way == 3:
        return pick(ch, (None, True, False, 0.5, float("nan")))
    if way in (4, 5):
        return pick(ch, ("type", "id", "ping", "hello", 1))
    if way == 6:
        return [random_value(ch, depth + 1) for _ in range(ch.integer(0, 4))]
    return {
        pick(ch, ("type", "id", "versions", "x")): random_value(ch, depth + 1)
        for _ in range(ch.integer(0, 4))
    }


def random_frame(ch: Chooser) -> Fuzzed:
    if chance(ch, 50):
        return Fuzzed(ch.raw(0, 64), None, "random_bytes")
    value = random_value(ch)
    data = codec.encode(value)
    # Not a map at the top: nothing can make it a request.
    code = None if isinstance(value, dict) else ErrorCode.BAD_FRAME
    return Fuzzed(data, None, "random_msgpack", code=code)


VALID_SHARE = 25
RANDOM_SHARE = 5


def _struct_info(cls: type[Request]) -> mi.StructType:
    info = mi.type_info(cls)
    if not isinstance(info, mi.StructType):
        raise Unsupported(f"{cls.__qualname__} is not a struct")
    return info


INFOS: dict[type[Request], mi.StructType] = {cls: _struct_info(cls) for cls in REQUEST_TYPES}
"""``msgspec.inspect.type_info`` of every request type, read once."""

_ALL_FIELD_NAMES = sorted({f.encode_name for info in INFOS.values() for f in info.fields})


def fuzz_frame(
    ch: Chooser, ctx: Context | None = None, only: type[Request] | None = None
) -> Fuzzed:
    """One frame: a valid request of any catalog type (or of ``only``), a
    mutation of one, or random input."""
    ctx = ctx or Context()
    info = INFOS[only or pick(ch, REQUEST_TYPES)]
    items = struct_items(ch, info, ctx)
    roll = ch.integer(0, 99)
    if roll < VALID_SHARE:
        fields = plain(items)
        if chance(ch, 15):
            # Same values, longer encodings: still valid.
            items = [(k, noncanonical(v) or v) if k != "type" else (k, v) for k, v in items]
        return Fuzzed(encode_map(items), str(info.tag), "valid", valid=True, fields=fields)
    if roll < VALID_SHARE + RANDOM_SHARE:
        return random_frame(ch)
    names = list(MUTATIONS)
    start = ch.integer(0, len(names) - 1)
    for k in range(len(names)):
        mutate = MUTATIONS[names[(start + k) % len(names)]]
        fuzzed = mutate(ch, Draft(info, list(items), ctx))
        if fuzzed is not None:
            return fuzzed
    raise AssertionError("no mutation applies")  # pragma: no cover: wrong_type always does


# ------------------------------------------------------------------ oracle


class FuzzFailure(AssertionError):
    """The codec broke its contract on a fuzzed frame."""


def check_decode(fuzzed: Fuzzed) -> str:
    """Decode ``fuzzed.data`` as the server does and check the contract:
    either a request of the catalog (the one generated, for a valid frame) or
    :class:`ProtocolError` with a code of :data:`DECODE_CODES` (the expected
    one, when known) and an id that is a valid request id or None. Returns
    ``ok`` or the error code; raises :class:`FuzzFailure` otherwise."""
    try:
        request = codec.decode_request(fuzzed.data)
    except ProtocolError as exc:
        if exc.code not in DECODE_CODES:
            raise FuzzFailure(f"refused with {exc.code}: {fuzzed.describe()}") from exc
        rid = exc.request_id
        if rid is not None and (type(rid) is not int or not 0 <= rid <= limits.MAX_REQUEST_ID):
            raise FuzzFailure(f"error names id {rid!r}: {fuzzed.describe()}") from exc
        if fuzzed.valid:
            raise FuzzFailure(f"valid frame refused ({exc}): {fuzzed.describe()}") from exc
        if fuzzed.code is not None and exc.code != fuzzed.code:
            raise FuzzFailure(
                f"refused with {exc.code}, expected {fuzzed.code} ({exc}): {fuzzed.describe()}"
            ) from exc
        if fuzzed.code is not None and fuzzed.request_id is not None and rid != fuzzed.request_id:
            raise FuzzFailure(
                f"error names id {rid}, expected {fuzzed.request_id}: {fuzzed.describe()}"
            ) from exc
        return str(exc.code.value)
    except Exception as exc:
        raise FuzzFailure(f"raised {type(exc).__name__}: {exc}: {fuzzed.describe()}") from exc
    if not isinstance(request, Request) or type(request) not in _REQUEST_CLASSES:
        raise FuzzFailure(f"decoded to {type(request)!r}: {fuzzed.describe()}")
    if fuzzed.code is not None:
        raise FuzzFailure(f"accepted, expected {fuzzed.code}: {fuzzed.describe()}")
    if fuzzed.valid:
        tag = type(request).__struct_config__.tag
        if tag != fuzzed.request_type:
            raise FuzzFailure(f"decoded as {tag}: {fuzzed.describe()}")
        decoded = msgspec.to_builtins(request)
        got = _as_sent(decoded, fuzzed.fields)
        if got != fuzzed.fields:
            raise FuzzFailure(f"decoded {got!r}, sent {fuzzed.fields!r}: {fuzzed.describe()}")
    return "ok"


def _as_sent(decoded: Any, sent: Any) -> Any:
    """``decoded`` cut to the keys ``sent`` has, at every level: a nested
    struct fills in its defaults, which the frame did not carry."""
    if isinstance(decoded, dict) and isinstance(sent, dict):
        return {k: _as_sent(decoded.get(k), v) for k, v in sent.items()}
    if isinstance(decoded, list) and isinstance(sent, list) and len(decoded) == len(sent):
        return [_as_sent(d, v) for d, v in zip(decoded, sent, strict=True)]
    return decoded


_REQUEST_CLASSES = frozenset(REQUEST_TYPES)
