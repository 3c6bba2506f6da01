"""Encoding and decoding of frames: msgpack straight into typed structs.

Sans-I/O: bytes in, structs out, and back. The server uses
:func:`decode_request` and the ``encode_*`` functions; the client SDK uses
:func:`encode_request`, :func:`decode_server_frame`, :func:`decode_reply_data`
and :func:`decode_event`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from protocol.catalog import REQUESTS_BY_TYPE, AnyEvent, AnyRequest
from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import AnyServerFrame, ErrorFrame, Event, EventFrame, ReplyFrame, Request

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder(AnyRequest)
_server_frame_decoder = msgspec.msgpack.Decoder(AnyServerFrame)
_event_decoder = msgspec.msgpack.Decoder(AnyEvent)


class _Probe(msgspec.Struct):
    """Reads ``type`` and ``id`` out of a frame that failed to decode, so that
    the error can name the request it answers. Unknown fields are ignored."""

    type: Any = None
    id: Any = None


_probe_decoder = msgspec.msgpack.Decoder(_Probe)

# What a hostile frame can make msgspec raise: malformed msgpack, invalid
# UTF-8 in a string, or nesting deep enough to exhaust the recursion limit.
_UNDECODABLE = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def encode(obj: Any) -> bytes:
    """msgpack-encode any struct or plain value."""
    return _encoder.encode(obj)


# ------------------------------------------------------------------ server side


def decode_request(frame: bytes) -> Request:
    """Decode and validate one client frame.

    Raises :class:`ProtocolError` with ``bad_frame`` (not exactly one msgpack
    map with string keys),
    ``unknown_type`` or ``invalid_field``; its ``request_id`` is the frame's
    ``id`` when one could be read.
    """
    try:
        request: Request = _request_decoder.decode(frame)
        return request
    except _UNDECODABLE as exc:
        probe = _probe(frame)
        if probe is None:
            raise ProtocolError(
                ErrorCode.BAD_FRAME,
                "frame is not one msgpack map with string keys and nothing after it",
            ) from exc
        request_id = probe.id if _is_request_id(probe.id) else None
        if not isinstance(probe.type, str) or probe.type not in REQUESTS_BY_TYPE:
            raise ProtocolError(
                ErrorCode.UNKNOWN_TYPE,
                f"unknown request type {probe.type!r}"[:200],
                request_id=request_id,
            ) from exc
        raise ProtocolError(ErrorCode.INVALID_FIELD, str(exc)[:200], request_id=request_id) from exc


def _probe(frame: bytes) -> _Probe | None:
    try:
        return _probe_decoder.decode(frame)
    except _UNDECODABLE:
        return None


def _is_request_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def encode_reply(request_id: int, data: msgspec.Struct) -> bytes:
    return _encoder.encode(ReplyFrame(id=request_id, data=msgspec.Raw(_encoder.encode(data))))


def encode_error(
    request_id: int | None,
    code: ErrorCode,
    message: str,
    retry_after: float | None = None,
) -> bytes:
    return _encoder.encode(
        ErrorFrame(id=request_id, code=code.value, message=message, retry_after=retry_after)
    )


def encode_event_body(event: Event) -> bytes:
    """Encode an event once; :func:`encode_event_frame` then wraps the same
    bytes for every session with that session's ``seq``."""
    return _encoder.encode(event)


def encode_event_frame(seq: int, body: bytes) -> bytes:
    return _encoder.encode(EventFrame(seq=seq, event=msgspec.Raw(body)))


# ------------------------------------------------------------------ client side


def encode_request(request: Request) -> bytes:
    return _encoder.encode(request)


def decode_server_frame(frame: bytes) -> ReplyFrame | ErrorFrame | EventFrame:
    frame_struct: ReplyFrame | ErrorFrame | EventFrame = _server_frame_decoder.decode(frame)
    return frame_struct


def decode_reply_data(request_type: type[Request], data: msgspec.Raw) -> msgspec.Struct:
    """Decode a reply's ``data`` into the struct the request type declares."""
    result: msgspec.Struct = msgspec.msgpack.decode(data, type=request_type.reply)
    return result


def decode_event(body: msgspec.Raw | bytes) -> Event:
    event: Event = _event_decoder.decode(body)
    return event
