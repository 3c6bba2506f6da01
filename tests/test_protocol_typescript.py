"""The app's TypeScript types (``frontend/src/protocol/types.ts``) are
generated from :mod:`protocol` by ``make types`` and must be current."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from protocol import catalog, errors, limits
from protocol.typescript import JS_SAFE_INTEGER, render

ROOT = Path(__file__).resolve().parent.parent
TYPES = ROOT / "frontend" / "src" / "protocol" / "types.ts"


def test_the_committed_types_are_current() -> None:
    assert TYPES.exists(), "frontend/src/protocol/types.ts is missing: run `make types`"
    assert TYPES.read_text() == render(), (
        "frontend/src/protocol/types.ts is stale: run `make types` and commit the result"
    )


def test_the_types_command_prints_render() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "protocol.typescript"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert printed == render()


def _block(text: str, name: str) -> str:
    match = re.search(rf"export interface {name} \{{\n(.*?)\n\}}", text, re.S)
    assert match, f"no interface {name}"
    return match.group(1)


def test_every_request_has_its_interface_its_place_in_the_union_and_its_reply() -> None:
    text = render()
    union = text.split("export type Request =", 1)[1].split(";", 1)[0]
    reply_of = _block(text, "ReplyOf")
    for cls in catalog.REQUEST_TYPES:
        tag = cls.__struct_config__.tag
        assert f'type: "{tag}";' in text, tag
        assert f'"{tag}": ' in reply_of, tag
    assert union.count("|") == len(catalog.REQUEST_TYPES)
    events = text.split("export type ServerEvent =", 1)[1].split(";", 1)[0]
    assert events.count("|") == len(catalog.EVENT_TYPES)


def test_fields_map_to_their_typescript_types() -> None:
    text = render()
    send = _block(text, "SendMessage")
    assert '  type: "message.send";' in send
    assert "  conversation_id: string;" in send
    assert "  text?: string;" in send  # has a default: optional when sending
    assert "  media_id?: string | null;" in send
    reply = _block(text, "ReplyFrame")
    assert "  data: unknown;" in reply  # the reply struct, spliced in as msgpack
    # Both MarkRead structs survive, named by their domain.
    assert "export interface MessagingMarkRead {" in text
    assert "export interface NotificationsMarkRead {" in text


def test_codes_and_limits_come_from_the_python_definitions() -> None:
    text = render()
    for code in errors.ErrorCode:
        assert f'  | "{code.value}"' in text
    for close in errors.CloseCode:
        assert f"  {close.name}: {close.value}," in text
    assert f"  MAX_FRAME_BYTES: {limits.MAX_FRAME_BYTES}," in text
    assert "MAX_INT" not in text  # beyond what a JavaScript number holds exactly
    assert limits.MAX_INT > JS_SAFE_INTEGER
