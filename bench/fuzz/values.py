"""The building blocks of fuzz frames: the source of random choices, msgpack
maps written pair by pair, text, and values of a msgspec type, valid or not."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec
from msgspec import inspect as mi

from protocol import codec, limits

INT64_MIN = -(2**63)
UINT64_MAX = 2**64 - 1
"""msgpack integers span [-2^63, 2^64 - 1]; nothing outside can be encoded."""

T = TypeVar("T")


class Unsupported(Exception):
    """The catalog uses a field type or pattern the fuzzer cannot generate."""


class Chooser(Protocol):
    """The source of every random choice the generator makes."""

    def integer(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""

    def raw(self, min_size: int, max_size: int) -> bytes:
        """Random bytes, between min_size and max_size of them."""


class RandomChooser:
    """Choices from a seeded :class:`random.Random` (for long runs)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def raw(self, min_size: int, max_size: int) -> bytes:
        return self.rng.randbytes(self.rng.randint(min_size, max_size))


def pick(ch: Chooser, options: Sequence[T]) -> T:
    return options[ch.integer(0, len(options) - 1)]


def chance(ch: Chooser, percent: int) -> bool:
    # Shrinks (towards 0) to "no": a minimal example takes the plain path.
    return ch.integer(0, 99) >= 100 - percent


@dataclass
class Context:
    """What the generator may know of the world it fires at."""

    request_id: int | None = None
    """The id a valid frame must carry (a connection's next id); random when None."""
    known_ids: Sequence[str] = ()
    """Real user and conversation ids, used for id fields more often than not."""
    allow_oversized: bool = False
    """Whether frames over ``MAX_FRAME_BYTES`` may be made (a server closes 1009)."""


Items = list[tuple[Any, Any]]
"""A msgpack map as (key, value) pairs: keys may repeat or not be strings, and
a ``msgspec.Raw`` key or value is written as it is."""


def encode_map(items: Items) -> bytes:
    n = len(items)
    if n < 16:
        head = bytes([0x80 | n])
    elif n < 2**16:
        head = b"\xde" + n.to_bytes(2, "big")
    else:
        head = b"\xdf" + n.to_bytes(4, "big")
    return head + b"".join(codec.encode(k) + codec.encode(v) for k, v in items)


def str_header(n: int) -> bytes:
    if n < 32:
        return bytes([0xA0 | n])
    if n < 2**8:
        return b"\xd9" + bytes([n])
    if n < 2**16:
        return b"\xda" + n.to_bytes(2, "big")
    return b"\xdb" + n.to_bytes(4, "big")


def nested(depth: int, as_maps: bool) -> msgspec.Raw:
    level = b"\x81\xa1k" if as_maps else b"\x91"
    return msgspec.Raw(level * depth + b"\xc0")


# ------------------------------------------------------------------- text

ALPHABETS = (
    "abcdefxyz0123456789",
    "ABCXYZ_.-",
    " \t\r\n",
    "éßøüñ",
    "中文字日本",
    "😀🎉🧪",
    "\x00\x01\x7f\u202e\ufeff\u200b",
    "@:/%\\\"'?#&=",
)
USERNAME_CHARS = "abcxyzABCXYZ0189_."
HOST_CHARS = "abcxyz0189-"
URL_CHARS = "abcxyz0189-._~/?#[]@!$&'()*+,;=%"


def size(ch: Chooser, lo: int, hi: int) -> int:
    """A length in [lo, hi], biased to the edges and to small values."""
    way = ch.integer(0, 5)
    if way == 0:
        return lo
    if way == 1:
        return hi
    if way == 2:
        return min(hi, lo + 1)
    if way == 3:
        return max(lo, hi - 1)
    return ch.integer(lo, min(hi, lo + 12))


def text(ch: Chooser, lo: int, hi: int, alphabet: str | None = None) -> str:
    """Text of ``lo`` to ``hi`` characters (code points). Long text repeats a
    short random unit, so that its cost does not grow with its length."""
    n = size(ch, lo, hi)
    chars = alphabet or "".join(pick(ch, ALPHABETS) for _ in range(ch.integer(1, 3)))
    if n <= 16:
        return "".join(pick(ch, chars) for _ in range(n))
    unit = "".join(pick(ch, chars) for _ in range(ch.integer(1, 4)))
    return (unit * (n // len(unit) + 1))[:n]


def _username(ch: Chooser, lo: int, hi: int) -> str:
    return text(ch, lo, hi, USERNAME_CHARS)


def _email(ch: Chooser, lo: int, hi: int) -> str:
    local = text(ch, 1, 12, USERNAME_CHARS + "+-")
    host = text(ch, 1, 12, HOST_CHARS)
    tld = text(ch, 1, 6, "abcxyz")
    return f"{local}@{host}.{tld}"[:hi]


def _url(ch: Chooser, lo: int, hi: int) -> str:
    if chance(ch, 20):
        return ""
    scheme = pick(ch, ("http://", "https://"))
    return scheme + text(ch, 1, min(hi - len(scheme), 200), URL_CHARS)


def _https_url(ch: Chooser, lo: int, hi: int) -> str:
    scheme = "https://"
    return scheme + text(ch, 1, min(hi - len(scheme), 200), URL_CHARS)


def _tag(ch: Chooser, lo: int, hi: int) -> str:
    mark = "#" if chance(ch, 30) else ""
    return mark + text(ch, max(lo, 1), min(hi - len(mark), 24), USERNAME_CHARS.replace(".", ""))


PATTERNS: dict[str, Callable[[Chooser, int, int], str]] = {
    limits.USERNAME_PATTERN: _username,
    limits.EMAIL_PATTERN: _email,
    limits.URL_PATTERN: _url,
    limits.HTTPS_URL_PATTERN: _https_url,
    limits.TAG_PATTERN: _tag,
}
"""A generator of matching strings for every ``pattern`` in the catalog."""

PATTERN_BREAKERS = (
    "a b",
    "@",
    "a@b",
    "x\ny",
    "ada\n",
    "javascript:alert(1)",
    "http:// x",
    "ftp://x",
    "é",
)


# ----------------------------------------------------------- valid values


def int_bounds(t: mi.IntType) -> tuple[int, int]:
    lo = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else INT64_MIN)
    hi = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else UINT64_MAX)
    return lo, hi


def str_bounds(t: mi.StrType) -> tuple[int, int]:
    return t.min_length or 0, t.max_length if t.max_length is not None else 256


def list_bounds(t: mi.ListType) -> tuple[int, int]:
    return t.min_length or 0, t.max_length if t.max_length is not None else 16


def is_object_id(t: mi.Type) -> bool:
    return isinstance(t, mi.StrType) and (t.min_length, t.max_length) == (
        1,
        limits.SESSION_ID_MAX,
    )


def valid_int(ch: Chooser, lo: int, hi: int) -> int:
    edges = [lo, hi, min(hi, lo + 1), max(lo, hi - 1)]
    if lo <= 0 <= hi:
        edges.append(0)
    return pick(ch, edges) if chance(ch, 40) else ch.integer(lo, min(hi, max(lo, 0) + 1000))


def valid_value(ch: Chooser, t: mi.Type, ctx: Context) -> Any:
    """A value of type ``t`` that meets all of its constraints."""
    if isinstance(t, mi.IntType):
        return valid_int(ch, *int_bounds(t))
    if isinstance(t, mi.StrType):
        lo, hi = str_bounds(t)
        if is_object_id(t) and ctx.known_ids and chance(ch, 70):
            return pick(ch, ctx.known_ids)
        if t.pattern is not None:
            maker = PATTERNS.get(t.pattern)
            if maker is None:
                raise Unsupported(f"no generator for pattern {t.pattern!r}")
            return maker(ch, lo, hi)
        return text(ch, lo, hi)
    if isinstance(t, mi.ListType):
        lo, hi = list_bounds(t)
        return [valid_value(ch, t.item_type, ctx) for _ in range(size(ch, lo, hi))]
    if isinstance(t, mi.UnionType):
        return valid_value(ch, pick(ch, t.types), ctx)
    if isinstance(t, mi.NoneType):
        return None
    if isinstance(t, mi.LiteralType):
        return pick(ch, t.values)
    if isinstance(t, mi.BoolType):
        return chance(ch, 50)
    if isinstance(t, mi.FloatType):
        lo_f = t.ge if t.ge is not None else -(10**6) / 8
        hi_f = t.le if t.le is not None else 10**6 / 8
        if t.gt is not None:  # an open bound: start one step above it
            lo_f = t.gt + (hi_f - t.gt) / 1000
        return lo_f + (hi_f - lo_f) * ch.integer(0, 1000) / 1000
    if isinstance(t, mi.StructType):
        return dict(struct_items(ch, t, ctx))
    raise Unsupported(f"no generator for field type {t!r}")


def struct_items(ch: Chooser, t: mi.StructType, ctx: Context) -> Items:
    """A valid map for struct ``t`` (with its tag, if tagged)."""
    items: Items = []
    if t.tag_field is not None:
        items.append((t.tag_field, t.tag))
    for f in t.fields:
        if f.required or chance(ch, 50):
            if f.name == "id" and ctx.request_id is not None and t.tag_field is not None:
                items.append(("id", ctx.request_id))
            else:
                items.append((f.encode_name, valid_value(ch, f.type, ctx)))
    if len(items) > 1 and chance(ch, 20):
        k = ch.integer(1, len(items) - 1)
        items = items[k:] + items[:k]
    return items


def noncanonical(value: Any) -> msgspec.Raw | None:
    """The same value in a longer (still valid) msgpack encoding."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 <= value <= UINT64_MAX:
        return msgspec.Raw(b"\xcf" + value.to_bytes(8, "big"))
    if isinstance(value, int) and value >= INT64_MIN:
        return msgspec.Raw(b"\xd3" + value.to_bytes(8, "big", signed=True))
    if isinstance(value, str):
        data = value.encode()
        return msgspec.Raw(b"\xdb" + len(data).to_bytes(4, "big") + data)
    return None


# --------------------------------------------------------- invalid values

INVALID_UTF8 = (
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xc0\xaf",
    b"\xe2\x82",
)
EXT_VALUES = (
    b"\xd4\x05\x01",
    b"\xd6\xff\x00\x00\x00\x00",
    b"\xc7\x00\x07",
    b"\xd8\x01" + b"\0" * 16,
)
HUGE_HEADERS = (b"\xdb\xff\xff\xff\xf0", b"\xdd\xff\xff\xff\xf0", b"\xdf\xff\xff\xff\xf0")
"""A str, array and map that claim about 4 GB: there is never that much left."""

WRONG_KINDS: tuple[Any, ...] = (
    0,
    -1,
    7,
    2**53,
    UINT64_MAX,
    INT64_MIN,
    1.5,
    float("nan"),
    float("inf"),
    -0.0,
    "",
    "7",
    "ping",
    b"\x00bin",
    None,
    True,
    False,
    [],
    [1, "a"],
    {},
    {"k": "v"},
)


def fits_kind(value: Any, t: mi.Type) -> bool:
    """Whether ``value`` is of a kind ``t`` accepts (constraints aside)."""
    if isinstance(t, mi.UnionType):
        return any(fits_kind(value, member) for member in t.types)
    if isinstance(t, mi.IntType):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(t, mi.StrType):
        return isinstance(value, str)
    if isinstance(t, mi.NoneType):
        return value is None
    if isinstance(t, mi.ListType):
        return isinstance(value, list)
    if isinstance(t, mi.StructType):
        return isinstance(value, dict)
    if isinstance(t, mi.BoolType):
        return isinstance(value, bool)
    if isinstance(t, mi.FloatType):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(t, mi.LiteralType):
        return any(type(value) is type(v) for v in t.values)
    return True


def unwrap(t: mi.Type) -> list[mi.Type]:
    """The members of a union that are not None (or ``[t]``)."""
    if isinstance(t, mi.UnionType):
        return [m for m in t.types if not isinstance(m, mi.NoneType)]
    return [t]
