"""Generate the app's TypeScript types from the catalog: ``python -m protocol.typescript``.

``make types`` writes the output to ``frontend/src/protocol/types.ts``, and
``tests/test_protocol_typescript.py`` fails when the committed file differs
from :func:`render`, as for ``docs/protocol.md``: the wire contract lives only
in :mod:`protocol`, and the app's types are derived from it.

What is written, all from the code:

* an ``interface`` per struct reachable from a request, its reply, an event
  or a server frame (fields in wire order, ``type`` first for tagged
  structs; a request field with a default is optional, since the server
  fills it in; replies and events always carry every field);
* ``Request`` and ``ServerEvent`` unions, ``RequestType`` and ``EventType``
  (the wire tags), and ``ReplyOf``: each request tag mapped to the struct its
  reply's ``data`` decodes into;
* ``ErrorCode`` and ``CloseCode`` from :mod:`protocol.errors`, the numeric
  limits of :mod:`protocol.limits` that a JavaScript number holds exactly,
  and the protocol versions.

Constraints (lengths, ranges, patterns) are not types in TypeScript; they
are written as a comment on the field, and the server checks them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec
import msgspec.inspect as mi

from protocol import catalog, errors, frames, limits, version

JS_SAFE_INTEGER = 2**53 - 1

HEADER = """\
// Generated from protocol/ by `make types` (python -m protocol.typescript).
// Do not edit: change the Python structs and run `make types`.
/* eslint-disable */
"""


def _reachable(roots: Iterable[type]) -> dict[type, mi.StructType]:
    """Every struct reachable from ``roots``, in first-seen order."""
    found: dict[type, mi.StructType] = {}

    def walk(info: mi.Type) -> None:
        if isinstance(info, mi.StructType):
            if info.cls in found:
                return
            found[info.cls] = info
            for field in info.fields:
                walk(field.type)
        elif isinstance(info, mi.ListType):
            walk(info.item_type)
        elif isinstance(info, mi.DictType):
            walk(info.key_type)
            walk(info.value_type)
        elif isinstance(info, mi.UnionType):
            for member in info.types:
                walk(member)

    for info in mi.multi_type_info(list(roots)):
        walk(info)
    return found


_NAMES: dict[type, str] = {}
"""The TypeScript name of each struct (see :func:`_name_structs`)."""


def _name_structs(structs: Iterable[type]) -> None:
    """A struct keeps its Python name unless two share it (``MarkRead`` of
    messaging and of notifications): then each is prefixed with its domain
    module's name (``MessagingMarkRead``, ``NotificationsMarkRead``)."""
    classes = list(structs)
    counts: dict[str, int] = {}
    for cls in classes:
        counts[cls.__name__] = counts.get(cls.__name__, 0) + 1
    _NAMES.clear()
    for cls in classes:
        name = cls.__name__
        if counts[name] > 1:
            name = cls.__module__.rsplit(".", 1)[-1].capitalize() + name
        _NAMES[cls] = name
    names = list(_NAMES.values())
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"struct names used twice, ambiguous in TypeScript: {twice}")


def _ts_type(info: mi.Type) -> str:
    if isinstance(info, mi.StructType):
        return _NAMES[info.cls]
    if isinstance(info, mi.StrType):
        return "string"
    if isinstance(info, mi.IntType | mi.FloatType):
        return "number"
    if isinstance(info, mi.BoolType):
        return "boolean"
    if isinstance(info, mi.NoneType):
        return "null"
    if isinstance(info, mi.RawType):
        # Raw msgpack is spliced into the frame, not wrapped in bytes: a
        # msgpack decoder returns it decoded (its shape: ReplyOf, ServerEvent).
        return "unknown"
    if isinstance(info, mi.ListType):
        item = _ts_type(info.item_type)
        return f"({item})[]" if "|" in item else f"{item}[]"
    if isinstance(info, mi.DictType):
        return f"Record<string, {_ts_type(info.value_type)}>"
    if isinstance(info, mi.LiteralType):
        return " | ".join(_literal(v) for v in info.values)
    if isinstance(info, mi.UnionType):
        return " | ".join(_ts_type(member) for member in info.types)
    raise TypeError(f"no TypeScript type for {info!r}: add it to protocol/typescript.py")


def _literal(value: object) -> str:
    if isinstance(value, str):
        return msgspec.json.encode(value).decode()
    return str(value)


def _constraints(info: mi.Type) -> str:
    """The msgspec constraints of a field's type, for a comment."""
    parts = []
    for name in ("min_length", "max_length", "ge", "gt", "le", "lt", "pattern"):
        value = getattr(info, name, None)
        if value is not None:
            parts.append(f"{name} {value}")
    return ", ".join(parts)


def _interface(info: mi.StructType, *, request: bool) -> Iterator[str]:
    cls = info.cls
    yield f"export interface {_NAMES[cls]} {{"
    tag = cls.__struct_config__.tag
    if isinstance(tag, str):
        yield f"  {cls.__struct_config__.tag_field}: {_literal(tag)};"
    for field in info.fields:
        optional = request and not field.required
        note = _constraints(field.type)
        comment = f"  // {note}" if note else ""
        mark = "?" if optional else ""
        yield f"  {field.encode_name}{mark}: {_ts_type(field.type)};{comment}"
    yield "}"


def _union(name: str, members: Iterable[str]) -> Iterator[str]:
    members = list(members)
    yield f"export type {name} ="
    for member in members:
        yield f"  | {member}"
    yield ";"


def _string_enum(name: str, values: Iterable[str]) -> Iterator[str]:
    yield from _union(name, (_literal(v) for v in values))


def _numbers(name: str, items: Iterable[tuple[str, int | float]]) -> Iterator[str]:
    yield f"export const {name} = {{"
    for key, value in items:
        yield f"  {key}: {value},"
    yield "} as const;"


def render() -> str:
    """The whole ``types.ts``."""
    requests = list(catalog.REQUEST_TYPES)
    events = list(catalog.EVENT_TYPES)
    server_frames = [frames.ReplyFrame, frames.ErrorFrame, frames.EventFrame]
    request_set = set(requests)
    structs = _reachable([*requests, *(r.reply for r in requests), *events, *server_frames])
    _name_structs(structs)

    lines: list[str] = [HEADER]
    lines.append(f"export const PROTOCOL_VERSION = {version.PROTOCOL_VERSION};")
    supported = ", ".join(str(v) for v in sorted(version.SUPPORTED_VERSIONS))
    lines.append(f"export const SUPPORTED_VERSIONS = [{supported}] as const;")
    lines.append("")
    limit_items = [
        (name, value)
        for name, value in vars(limits).items()
        if name.isupper()
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        # A JavaScript number holds integers exactly only up to 2**53 - 1
        # (MAX_INT, the stores' bound, is beyond it: the server checks it).
        and abs(value) <= JS_SAFE_INTEGER
    ]
    lines.extend(_numbers("LIMITS", limit_items))
    lines.append("")
    lines.extend(_string_enum("ErrorCode", (code.value for code in errors.ErrorCode)))
    lines.append("")
    lines.extend(_numbers("CloseCode", ((c.name, c.value) for c in errors.CloseCode)))
    lines.append("")
    for cls, info in structs.items():
        lines.extend(_interface(info, request=cls in request_set))
        lines.append("")
    lines.extend(_union("Request", (_NAMES[cls] for cls in requests)))
    lines.append("")
    lines.extend(_union("ServerEvent", (_NAMES[cls] for cls in events)))
    lines.append("")
    lines.extend(_union("ServerFrame", (_NAMES[cls] for cls in server_frames)))
    lines.append("")
    lines.append('export type RequestType = Request["type"];')
    lines.append('export type EventType = ServerEvent["type"];')
    lines.append("")
    lines.append("/** The struct a successful reply's `data` decodes into, per request type. */")
    lines.append("export interface ReplyOf {")
    for cls in requests:
        tag = cls.__struct_config__.tag
        lines.append(f"  {_literal(tag)}: {_NAMES[cls.reply]};")
    lines.append("}")
    lines.append("")
    lines.append(
        "/** A request as the app builds it: everything but the `id` the client assigns. */"
    )
    lines.append(
        'export type Outgoing<T extends RequestType> = Omit<Extract<Request, { type: T }>, "id">;'
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
