"""A tiny reader of ISO base media files (MP4, MOV): just enough of the box
tree to tell a video's display size and duration, from ``moov/mvhd`` and the
video track's ``tkhd``.

Reads are bounded: box headers, and the payloads of a few small boxes; the
file is never loaded (``mdat`` may be gigabytes and is skipped by seeking).
Everything it cannot make sense of raises :class:`BoxError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAX_BOXES = 10_000
"""Boxes visited before giving up: a crafted file of millions of empty boxes
must not keep a worker thread busy."""

_SMALL_BOX = 4096
"""``mvhd``, ``tkhd`` and ``hdlr`` payloads are about 100 bytes; a bigger one is
read only up to this many bytes."""


class BoxError(ValueError):
    """The file is not a well-formed ISO base media file."""


@dataclass(frozen=True)
class Box:
    kind: bytes
    start: int
    """Offset of the payload (after the header)."""
    end: int
    """Offset just after the box."""


@dataclass(frozen=True)
class Track:
    handler: bytes | None
    """``b"vide"``, ``b"soun"``...; ``None`` when the track has no ``hdlr``."""
    width: float
    height: float
    rotated: bool
    """The matrix turns the picture by 90° or 270° (a portrait phone video):
    display width and height are swapped."""


@dataclass(frozen=True)
class Movie:
    duration: float | None
    tracks: list[Track]


class _Walker:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size
        self.visited = 0

    def boxes(self, start: int, end: int) -> Iterator[Box]:
        """The boxes in ``[start, end)``, in order, checked against their parent."""
        at = start
        while at < end:
            self.visited += 1
            if self.visited > MAX_BOXES:
                raise BoxError("too many boxes")
            if end - at < 8:
                raise BoxError("truncated box header")
            self.f.seek(at)
            header = self.f.read(8)
            if len(header) < 8:
                raise BoxError("truncated box header")
            size, kind = struct.unpack(">I4s", header)
            payload = at + 8
            if size == 1:  # a 64-bit size follows the type
                large = self.f.read(8)
                if len(large) < 8:
                    raise BoxError("truncated box header")
                (size,) = struct.unpack(">Q", large)
                payload = at + 16
            elif size == 0:  # the box runs to the end of its parent (the file)
                size = end - at
            if size < payload - at or at + size > end:
                raise BoxError(f"box {kind!r} overruns its parent")
            yield Box(kind, payload, at + size)
            at += size

    def read(self, box: Box) -> bytes:
        self.f.seek(box.start)
        return self.f.read(min(box.end - box.start, _SMALL_BOX))


def _mvhd(data: bytes) -> float | None:
    if len(data) < 4:
        raise BoxError("short mvhd")
    if data[0] == 1:
        if len(data) < 32:
            raise BoxError("short mvhd")
        timescale, duration = struct.unpack_from(">IQ", data, 20)
        unknown = duration == 2**64 - 1
    else:
        if len(data) < 20:
            raise BoxError("short mvhd")
        timescale, duration = struct.unpack_from(">II", data, 12)
        unknown = duration == 2**32 - 1
    if timescale == 0 or unknown:
        return None
    return float(duration) / float(timescale)


def _tkhd(data: bytes) -> tuple[float, float, bool]:
    # After version/flags: times, track id, reserved, duration (32 or 64 bit),
    # then reserved[8], layer, alternate group, volume, reserved (16 bytes),
    # the 3x3 matrix (36 bytes), width and height (16.16 fixed point).
    offset = 4 + (32 if data[:1] == b"\x01" else 20) + 16
    if len(data) < offset + 44:
        raise BoxError("short tkhd")
    a, b, _u, c, d = struct.unpack_from(">iiiii", data, offset)
    width, height = struct.unpack_from(">II", data, offset + 36)
    rotated = a == 0 and d == 0 and b != 0 and c != 0
    return width / 65536, height / 65536, rotated


def read_movie(f: BinaryIO) -> Movie:
    """The movie header and track headers of the file open in ``f`` (binary,
    seekable). Raises :class:`BoxError` when the box tree is malformed or
    has no ``moov``."""
    size = f.seek(0, 2)
    walker = _Walker(f, size)
    duration: float | None = None
    tracks: list[Track] = []
    found_moov = False
    for top in walker.boxes(0, size):
        if top.kind != b"moov":
            continue
        found_moov = True
        for child in walker.boxes(top.start, top.end):
            if child.kind == b"mvhd":
                duration = _mvhd(walker.read(child))
            elif child.kind == b"trak":
                tracks.append(_track(walker, child))
        break
    if not found_moov:
        raise BoxError("no moov box")
    return Movie(duration, tracks)


def _track(walker: _Walker, trak: Box) -> Track:
    geometry: tuple[float, float, bool] | None = None
    handler: bytes | None = None
    for box in walker.boxes(trak.start, trak.end):
        if box.kind == b"tkhd":
            geometry = _tkhd(walker.read(box))
        elif box.kind == b"mdia":
            for inner in walker.boxes(box.start, box.end):
                if inner.kind == b"hdlr":
                    data = walker.read(inner)
                    # version/flags (4), pre_defined (4), handler_type (4)
                    if len(data) < 12:
                        raise BoxError("short hdlr")
                    handler = data[8:12]
    if geometry is None:
        raise BoxError("track without tkhd")
    width, height, rotated = geometry
    return Track(handler, width, height, rotated)
