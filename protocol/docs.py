"""Generate ``docs/protocol.md`` from the catalog: ``python -m protocol.docs``.

Everything in the document comes from the code, so that it cannot drift:

* message structs from every domain module of :mod:`protocol.messages` (as
  listed in :data:`protocol.catalog.DOMAINS`, each with its ``REQUESTS`` and
  ``EVENTS``), the server frames of :mod:`protocol.frames`, and every struct
  they reach: their fields, types, defaults and constraints through
  :func:`msgspec.inspect.type_info`;
* docstrings of the domain modules (which head their sections), of structs
  (``__doc__``) and of fields, enum members and constants (the string literal
  written right after an assignment, which Python itself discards; read here
  from the source of the module that defines each class with :mod:`ast`);
* error and close codes from :mod:`protocol.errors`, limits from
  :mod:`protocol.limits`, versions from :mod:`protocol.version`.

``tests/test_protocol.py`` fails when the committed file differs from
:func:`render` (fix: ``make docs``).
"""

from __future__ import annotations

import ast
import enum
import functools
import inspect
import itertools
import json
import re
import sys
import typing
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

import msgspec
import msgspec.inspect as mi

from protocol import catalog, errors, frames, limits, version
from protocol.messages import session

# ------------------------------------------------------------------ docstrings


@functools.cache
def _module_ast(module_name: str) -> ast.Module | None:
    """The parsed source of a loaded module; ``None`` for one without Python
    source (builtins, extension modules such as msgspec's core)."""
    module = sys.modules.get(module_name)
    try:
        return ast.parse(inspect.getsource(module)) if module is not None else None
    except (OSError, TypeError):
        return None


def _attribute_docs(body: list[ast.stmt]) -> dict[str, str]:
    """Map each name assigned in ``body`` to the string literal that directly
    follows its assignment (the "attribute docstring" convention)."""
    docs: dict[str, str] = {}
    for stmt, following in itertools.pairwise(body):
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
        elif (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            name = stmt.targets[0].id
        else:
            continue
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[name] = inspect.cleandoc(following.value.value)
    return docs


def _class_node(cls: type) -> ast.ClassDef | None:
    module = _module_ast(cls.__module__)
    if module is None:
        return None
    for node in ast.walk(module):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return node
    return None


def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings of ``cls`` and its bases (nearest definition wins)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        node = _class_node(klass)
        if node is not None:
            docs.update(_attribute_docs(node.body))
    return docs


def class_doc(cls: type) -> str:
    """The class's own docstring (not inherited), or ``""``."""
    doc = cls.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def markdown(text: str) -> str:
    """reStructuredText-isms of our docstrings to Markdown: ``x`` and
    :role:`x` become `x`."""
    return _ROLE.sub(r"`\1`", text).replace("``", "`")


def cell(text: str) -> str:
    """One Markdown table cell: a single line, pipes escaped (GFM needs that
    even inside code spans)."""
    return " ".join(markdown(text).split()).replace("|", "\\|")


def first_sentence(text: str) -> str:
    paragraph = " ".join(text.split("\n\n", 1)[0].split())
    match = re.match(r"(.+?\.)(\s|$)", paragraph)
    return match.group(1) if match else paragraph


# ------------------------------------------------------------------ types


def tag_of(cls: type[msgspec.Struct]) -> str:
    return str(cls.__struct_config__.tag)


class _Anchors:
    """Where each documented struct lives in the page."""

    def __init__(self) -> None:
        self.by_class: dict[type, str] = {}

    def add(self, cls: type, anchor: str) -> None:
        self.by_class.setdefault(cls, anchor)

    def link(self, cls: type) -> str:
        anchor = self.by_class.get(cls)
        return f"[{cls.__name__}](#{anchor})" if anchor else cls.__name__


def type_name(t: mi.Type, anchors: _Anchors) -> str:
    """A compact, language-neutral name of a wire type."""
    match t:
        case mi.StrType():
            return "str"
        case mi.IntType():
            return "int"
        case mi.FloatType():
            return "float"
        case mi.BoolType():
            return "bool"
        case mi.NoneType():
            return "null"
        case mi.BytesType() | mi.ByteArrayType() | mi.MemoryViewType():
            return "bin"
        case mi.RawType():
            return "msgpack value"
        case mi.AnyType():
            return "any"
        case mi.LiteralType(values=values):
            return " | ".join(json.dumps(v) for v in values)
        case (
            mi.ListType(item_type=item)
            | mi.SetType(item_type=item)
            | mi.FrozenSetType(item_type=item)
        ):
            return f"list[{type_name(item, anchors)}]"
        case mi.VarTupleType(item_type=item):
            return f"list[{type_name(item, anchors)}]"
        case mi.TupleType(item_types=items):
            return "[" + ", ".join(type_name(i, anchors) for i in items) + "]"
        case mi.DictType(key_type=key, value_type=value):
            return f"map[{type_name(key, anchors)}, {type_name(value, anchors)}]"
        case mi.UnionType(types=members):
            return " | ".join(type_name(m, anchors) for m in members)
        case mi.StructType(cls=cls):
            return anchors.link(cls)
        case mi.EnumType(cls=cls):
            return " | ".join(json.dumps(m.value) for m in cls)
    return type(t).__name__.removesuffix("Type").lower()


def _range(low: Any, high: Any, unit: str = "") -> str | None:
    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"{low} to {high}{suffix}"
    if high is not None:
        return f"at most {high}{suffix}"
    if low is not None:
        return f"at least {low}{suffix}"
    return None


def constraints(t: mi.Type) -> list[str]:
    """Human-readable bounds that decoding enforces on a value of type ``t``."""
    out: list[str] = []
    match t:
        case mi.StrType(min_length=low, max_length=high, pattern=pattern):
            length = _range(low, high, "chars")
            if length:
                out.append(length)
            if pattern is not None:
                out.append(f"matches `{pattern}`")
        case mi.IntType() | mi.FloatType():
            if t.ge is not None or t.le is not None:
                bounds = _range(t.ge, t.le)
                if bounds:
                    out.append(bounds)
            if t.gt is not None:
                out.append(f"greater than {t.gt}")
            if t.lt is not None:
                out.append(f"less than {t.lt}")
            if t.multiple_of is not None:
                out.append(f"multiple of {t.multiple_of}")
        case mi.ListType() | mi.SetType() | mi.FrozenSetType() | mi.VarTupleType():
            items = _range(t.min_length, t.max_length, "items")
            if items:
                out.append(items)
            out += [f"each {c}" for c in constraints(t.item_type)]
        case mi.DictType(min_length=low, max_length=high):
            entries = _range(low, high, "entries")
            if entries:
                out.append(entries)
        case mi.UnionType(types=members):
            for member in members:
                out += constraints(member)
    return out


def default_text(field: mi.Field) -> str:
    if field.required:
        return "required"
    if field.default_factory is not msgspec.NODEFAULT:
        value = field.default_factory()
    else:
        value = field.default
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        return f"`{json.dumps(value)}`"
    except TypeError:
        return f"`{value!r}`"


def reachable_structs(roots: Iterable[type[msgspec.Struct]]) -> list[type[msgspec.Struct]]:
    """Every struct reachable from ``roots`` through field types and request
    ``reply`` declarations, in order of first appearance (roots included)."""
    seen: dict[type[msgspec.Struct], None] = {}
    pending = list(roots)

    def walk(t: mi.Type) -> Iterator[type[msgspec.Struct]]:
        match t:
            case mi.StructType(cls=cls):
                yield cls
            case mi.UnionType(types=members) | mi.TupleType(item_types=members):
                for member in members:
                    yield from walk(member)
            case (
                mi.ListType(item_type=item)
                | mi.SetType(item_type=item)
                | mi.FrozenSetType(item_type=item)
                | mi.VarTupleType(item_type=item)
            ):
                yield from walk(item)
            case mi.DictType(key_type=key, value_type=value):
                yield from walk(key)
                yield from walk(value)

    while pending:
        cls = pending.pop(0)
        if cls in seen:
            continue
        seen[cls] = None
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        found: list[type[msgspec.Struct]] = []
        for field in info.fields:
            found += walk(field.type)
        reply = getattr(cls, "reply", None)
        if isinstance(reply, type) and issubclass(reply, msgspec.Struct):
            found.append(reply)
        pending.extend(found)
    return list(seen)


# ------------------------------------------------------------------ sections


def _struct_table(cls: type[msgspec.Struct], anchors: _Anchors) -> list[str]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    docs = field_docs(cls)
    rows = [
        "| field | type | default | constraints | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    if info.tag_field is not None:
        rows.append(
            f"| `{info.tag_field}` | str | required | always `{json.dumps(info.tag)}` | "
            "names the struct |"
        )
    for field in info.fields:
        doc = docs.get(field.name, "")
        if not doc and field.name == "id" and issubclass(cls, frames.Request):
            doc = "Echoed by the reply or error that answers this request."
        rows.append(
            f"| `{field.encode_name}` | {cell(type_name(field.type, anchors))} "
            f"| {cell(default_text(field))} | {cell('; '.join(constraints(field.type)))} "
            f"| {cell(doc)} |"
        )
    if len(rows) == 2:
        return ["No fields: an empty map."]
    if info.forbid_unknown_fields:
        rows += ["", "Other keys are refused (`invalid_field`)."]
    return rows


def _struct_section(
    cls: type[msgspec.Struct],
    heading: str,
    anchor: str,
    anchors: _Anchors,
    extra: list[str],
    *,
    level: int = 3,
) -> list[str]:
    lines = [f'<a id="{anchor}"></a>', "", f"{'#' * level} {heading}", ""]
    doc = class_doc(cls)
    if doc:
        lines += [markdown(doc), ""]
    lines += extra
    lines += _struct_table(cls, anchors)
    lines.append("")
    return lines


def _intro() -> list[str]:
    hello = tag_of(session.Hello)
    return [
        "# Grover protocol",
        "",
        "<!-- Generated by `python -m protocol.docs` (`make docs`) from the catalog in",
        "`protocol/`. Do not edit by hand: tests/test_protocol.py fails when it is stale. -->",
        "",
        "The wire contract between Grover and its clients: every frame, field, bound",
        "and code they exchange over the websocket.",
        "",
        f"Protocol version **{version.PROTOCOL_VERSION}**; this server speaks "
        + ", ".join(str(v) for v in sorted(version.SUPPORTED_VERSIONS))
        + ".",
        "",
        "## Framing",
        "",
        "* **One websocket, binary frames, one msgpack map per frame.** A text frame "
        f"is refused with `{errors.ErrorCode.BAD_FRAME.value}`; a frame over "
        f"{limits.MAX_FRAME_BYTES} bytes closes the connection with "
        f"{int(errors.CloseCode.MESSAGE_TOO_BIG)}. The server's own frames are at "
        f"most {limits.MAX_REPLY_BYTES} bytes (`MAX_REPLY_BYTES`): pages stop early "
        "rather than grow past it.",
        "* **Strict maps.** Keys must be strings and the frame must hold exactly one "
        "map: a non-string key or bytes after the map make the frame "
        f"`{errors.ErrorCode.BAD_FRAME.value}`. A key given twice counts once, with "
        "its last value (a `type` given twice must name the same struct both times, "
        f"else `{errors.ErrorCode.INVALID_FIELD.value}`); clients should never send "
        "one. Integers are bounded by what the stores hold: any integer field above "
        f"{limits.MAX_INT} (`MAX_INT`) is `{errors.ErrorCode.INVALID_FIELD.value}`.",
        "* **`type` names the struct.** Every map has a `type` key whose value is one "
        "of the tags below; its other keys are that struct's fields, by name. Fields "
        "with a default may be left out. A request with a missing, extra, mistyped or "
        f"out-of-bounds field is refused with `{errors.ErrorCode.INVALID_FIELD.value}` "
        "and changes nothing; an unknown `type` gets "
        f"`{errors.ErrorCode.UNKNOWN_TYPE.value}`.",
        "* **Names.** Every request and event `type` is `<entity>.<action>`: a "
        "singular noun of one domain, then a verb for a request (`message.send`) or a "
        "past participle, or `new`, for an event (`profile.updated`, `message.new`). "
        "Only `hello` and `ping` have bare names.",
        "* **Requests and replies.** The client sends requests. Each carries an `id`, "
        f"a non-negative integer up to {limits.MAX_REQUEST_ID} (it fits a JavaScript "
        "number) that must increase strictly on a connection "
        f"(`{errors.ErrorCode.DUPLICATE_REQUEST_ID.value}` otherwise). Each request "
        "gets exactly one answer carrying the same `id`: a [`reply`](#frame-reply) "
        "frame whose `data` is the request's reply struct, or an "
        "[`error`](#frame-error) frame with a stable [code](#error-codes), a "
        "`message` for humans and, when waiting helps, `retry_after` seconds.",
        "* **Pipelining.** Up to 64 requests run concurrently per connection (the "
        "server stops reading while 64 are in flight) and replies may come in any "
        "order. Kept orders: requests handled by one conversation run in arrival "
        "order, and requests that change the login (marked *changes login*) run "
        "alone: after every earlier request is answered, before any later one "
        "starts. See [Requests](#requests).",
        "* **Events.** The server pushes [`event`](#frame-event) frames. Each carries "
        "`seq`, numbered per session from 1 and increasing by one, and `event`, one of "
        "the [event structs](#events).",
        f"* **Handshake.** The first request of a connection must be [`{hello}`]"
        f"(#request-{hello}) (`{errors.ErrorCode.HELLO_REQUIRED.value}` otherwise). It "
        "offers protocol `versions` (the server picks the highest one in common, or "
        f"answers `{errors.ErrorCode.UNSUPPORTED_VERSION.value}` and closes with "
        f"{int(errors.CloseCode.UNSUPPORTED_VERSION)}), may log in with a `token`, and "
        "may `resume` a session. Until the session is logged in, only the requests "
        "marked *before login* are allowed; the others get "
        f"`{errors.ErrorCode.UNAUTHENTICATED.value}`.",
        "* **Resume.** A client that reconnects sends `hello` with `resume` = "
        "(`session_id`, `last_seq`): the session id from its last welcome and the "
        "highest `seq` it processed, and with a `token` of the same user (a session "
        "id alone resumes nothing; an anonymous session is never resumed). If the "
        "server still holds every event after `last_seq`, the welcome says `resumed` "
        "and those events follow, in order, before live ones. Otherwise the welcome "
        "says `resync`: the client has a new session and must re-fetch its state "
        "with cursors.",
        "* **Keepalive.** The server pings at the websocket level every "
        "`heartbeat_interval` seconds (from the welcome); the `ping` request is an "
        "application-level round trip.",
        "",
    ]


def domain_title(domain: ModuleType) -> str:
    """``protocol.messages.session`` -> ``Session``."""
    return domain.__name__.rsplit(".", 1)[-1].capitalize()


def _domain_intro(domain: ModuleType, kind: str) -> list[str]:
    doc = inspect.cleandoc(domain.__doc__ or "")
    return [f"### {domain_title(domain)} {kind}", "", markdown(doc), ""]


def _requests(anchors: _Anchors) -> list[str]:
    base_docs = field_docs(frames.Request)
    lines = [
        "## Requests",
        "",
        markdown(class_doc(frames.Request)),
        "",
        f"*reply*: {cell(base_docs.get('reply', ''))} "
        f"*before login*: {cell(base_docs.get('before_login', ''))}",
        "",
    ]
    for domain in catalog.DOMAINS:
        requests: tuple[type[frames.Request], ...] = domain.REQUESTS
        if not requests:
            continue
        lines += _domain_intro(domain, "requests")
        lines += ["| type | reply | before login | summary |", "| --- | --- | --- | --- |"]
        for cls in requests:
            tag = tag_of(cls)
            lines.append(
                f"| [`{tag}`](#request-{tag}) | {anchors.link(cls.reply)} "
                f"| {'yes' if cls.before_login else 'no'} "
                f"| {cell(first_sentence(class_doc(cls)))} |"
            )
        lines.append("")
        for cls in requests:
            tag = tag_of(cls)
            extra = [
                f"Reply: {anchors.link(cls.reply)}. "
                f"Before login: {'allowed' if cls.before_login else 'no'}."
                + (" Changes login: runs alone on its connection." if cls.changes_login else ""),
                "",
            ]
            lines += _struct_section(cls, f"`{tag}`", f"request-{tag}", anchors, extra, level=4)
    return lines


def _events(anchors: _Anchors) -> list[str]:
    lines = ["## Events", "", markdown(class_doc(frames.Event)), ""]
    for domain in catalog.DOMAINS:
        events: tuple[type[frames.Event], ...] = domain.EVENTS
        if not events:
            continue
        lines += _domain_intro(domain, "events")
        lines += ["| type | summary |", "| --- | --- |"]
        for cls in events:
            tag = tag_of(cls)
            lines.append(f"| [`{tag}`](#event-{tag}) | {cell(first_sentence(class_doc(cls)))} |")
        lines.append("")
        for cls in events:
            tag = tag_of(cls)
            lines += _struct_section(cls, f"`{tag}`", f"event-{tag}", anchors, [], level=4)
    return lines


def server_frames() -> tuple[type[msgspec.Struct], ...]:
    return tuple(typing.get_args(frames.AnyServerFrame))


def _frames(anchors: _Anchors) -> list[str]:
    lines = ["## Server frames", "", markdown(class_doc(frames.ServerFrame)), ""]
    for cls in server_frames():
        tag = tag_of(cls)
        lines += _struct_section(cls, f"`{tag}`", f"frame-{tag}", anchors, [])
    return lines


def _types(structs: list[type[msgspec.Struct]], anchors: _Anchors) -> list[str]:
    lines = [
        "## Types",
        "",
        "Replies and the structs nested in messages. They travel without a `type` key.",
        "",
    ]
    for cls in structs:
        lines += _struct_section(cls, cls.__name__, anchors.by_class[cls], anchors, [])
    return lines


def _enum_table(cls: type[enum.Enum], header: str) -> list[str]:
    docs = field_docs(cls)
    rows = [header, "| --- | --- | --- |"]
    for member in cls:
        rows.append(f"| `{member.value}` | `{member.name}` | {cell(docs.get(member.name, ''))} |")
    return rows


def _codes() -> list[str]:
    return [
        "## Error codes",
        "",
        markdown(class_doc(errors.ErrorCode)),
        "",
        *_enum_table(errors.ErrorCode, "| code | name | meaning |"),
        "",
        "## Close codes",
        "",
        markdown(class_doc(errors.CloseCode)),
        "",
        *_enum_table(errors.CloseCode, "| code | name | meaning |"),
        "",
    ]


def _limits() -> list[str]:
    module = _module_ast(limits.__name__)
    assert module is not None
    docs = _attribute_docs(module.body)
    lines = [
        "## Limits",
        "",
        markdown(inspect.cleandoc(limits.__doc__ or "")),
        "",
        "| name | value | meaning |",
        "| --- | --- | --- |",
    ]
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, expr = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, expr = stmt.target, stmt.value
        else:
            continue
        if not (isinstance(target, ast.Name) and target.id.isupper()):
            continue
        shown = f"`{getattr(limits, target.id)}`"
        if not isinstance(expr, ast.Constant):
            # Show how it is written when that says more than the number.
            shown += f" (`{ast.unparse(expr)}`)"
        lines.append(f"| `{target.id}` | {cell(shown)} | {cell(docs.get(target.id, ''))} |")
    lines.append("")
    return lines


def render() -> str:
    """The whole of ``docs/protocol.md``."""
    anchors = _Anchors()
    for request in catalog.REQUEST_TYPES:
        anchors.add(request, f"request-{tag_of(request)}")
    for event in catalog.EVENT_TYPES:
        anchors.add(event, f"event-{tag_of(event)}")
    frames = server_frames()
    for frame in frames:
        anchors.add(frame, f"frame-{tag_of(frame)}")
    roots = (*catalog.REQUEST_TYPES, *catalog.EVENT_TYPES, *frames)
    others = [cls for cls in reachable_structs(roots) if cls not in anchors.by_class]
    for cls in others:
        anchors.add(cls, f"type-{cls.__name__.lower()}")

    lines = [
        *_intro(),
        *_requests(anchors),
        *_events(anchors),
        *_frames(anchors),
        *_types(others, anchors),
        *_codes(),
        *_limits(),
    ]
    text = "\n".join(lines)
    # One blank line between blocks, one newline at the end.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
