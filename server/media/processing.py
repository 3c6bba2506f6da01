"""What an upload is, and what is stored of it: sniffing the type from the
bytes, re-encoding images, probing videos.

Pure, blocking functions (file I/O and CPU-bound decoding): the upload
endpoint runs them with ``asyncio.to_thread``, never on the event loop.
Input is untrusted; every failure to make sense of it is a
:class:`MediaRejected`, never a stray Pillow exception.

Decisions (``docs/decisions.md``, "Media processing and files"): images are
stored as WEBP (quality 80), at most 2048 px on the long side, plus a 320 px
thumbnail; an animated GIF is kept byte for byte when it is small enough and
decodes completely, else its first frame is stored as a still WEBP; HEIC is
decoded by ``pillow-heif``; videos are not transcoded, only probed.
"""

from __future__ import annotations

import io
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import blurhash
import filetype
from PIL import Image, ImageCms, ImageOps

from actors.ports import MediaFile
from server.media.isobmff import BoxError, read_movie

try:  # HEIC (iPhone photos) needs libheif, which pillow-heif ships as a wheel.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - the pinned dependency is installed
    HEIC_SUPPORTED = False

MAX_PIXELS = 50_000_000
"""Pixels an image may claim (50 megapixels: a 8660 x 5773 photo; the
largest phone sensors are 48-50 MP). Checked from the header before
decoding; a 50,000 x 50,000 "bomb" would need 7.5 GB of RGB."""

# Pillow refuses by itself at twice this (DecompressionBombError) in every
# plugin's open, and only warns between 1x and 2x: our own check in
# process_image refuses from 1x. Process-wide, on purpose: no code of ours
# should decode a bigger image anywhere.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

MAX_GIF_FRAMES = 500
MAX_GIF_PIXELS = 200_000_000
"""Decoding work an animated GIF may ask for (frames x frame pixels) to be
kept animated; beyond either bound only its first frame is kept."""

WEBP_QUALITY = 80
SNIFF_BYTES = 8192
"""What ``filetype`` reads at most: every allowed signature is in it."""

UNSUPPORTED = "unsupported"
CORRUPT = "corrupt"
TOO_MANY_PIXELS = "too_many_pixels"


class MediaRejected(Exception):
    """An upload that is not stored. ``reason`` is :data:`UNSUPPORTED` (the
    endpoint answers 415), :data:`CORRUPT` or :data:`TOO_MANY_PIXELS`
    (422); ``detail`` is for the log and the error body."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Sniffed:
    mime: str
    """One of the allow-list: ``image/jpeg``, ``image/png``, ``image/webp``,
    ``image/heic``, ``image/avif``, ``image/gif``, ``video/mp4``,
    ``video/quicktime``."""
    kind: Literal["image", "video"]
    extension: str
    """The file extension for that type, without the dot (``mov`` for QuickTime)."""


_ALLOWED: dict[str, Sniffed] = {
    s.mime: s
    for s in (
        Sniffed("image/jpeg", "image", "jpg"),
        Sniffed("image/png", "image", "png"),
        Sniffed("image/webp", "image", "webp"),
        Sniffed("image/heic", "image", "heic"),
        Sniffed("image/avif", "image", "avif"),
        Sniffed("image/gif", "image", "gif"),
        Sniffed("video/mp4", "video", "mp4"),
        Sniffed("video/quicktime", "video", "mov"),
    )
}
_ALIASES = {
    # filetype names by a finer signature what is still one of ours: an
    # animated PNG is a PNG (its first frame is kept), an .m4v (iPhone
    # exports) an MP4.
    "image/apng": "image/png",
    "video/x-m4v": "video/mp4",
}
_PILLOW_FORMATS: dict[str, list[str]] = {
    # Pillow may only use the decoder of the sniffed type: a file that
    # passes the sniff cannot reach another of Pillow's many parsers.
    "image/jpeg": ["JPEG"],
    "image/png": ["PNG"],
    "image/webp": ["WEBP"],
    "image/gif": ["GIF"],
    # The brands overlap (an AVIF may say "mif1", which filetype calls HEIC).
    "image/heic": ["HEIF", "AVIF"],
    "image/avif": ["AVIF", "HEIF"],
}


def sniff(path: Path) -> Sniffed | None:
    """The type of the file at ``path`` from its first bytes (never its name
    or a header the client sent), or ``None`` when it is not one we take."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head:
        return None
    guess = filetype.guess(head)
    if guess is None:
        return None
    mime = str(guess.mime)
    return _ALLOWED.get(_ALIASES.get(mime, mime))


@dataclass(frozen=True)
class ProcessedImage:
    files: list[MediaFile]
    """``main`` then ``thumb``, in ``workdir``."""
    mime: str
    """The main file's type: ``image/webp``, or ``image/gif`` for a kept animation."""
    width: int
    height: int
    """Of the main file, as displayed (EXIF orientation applied)."""
    blurhash: str


@dataclass(frozen=True)
class VideoInfo:
    width: int | None
    height: int | None
    """Display size of the video track, ``None`` when there is none."""
    duration: float | None
    """Seconds, when the movie header tells it."""


def process_image(
    src: Path,
    workdir: Path,
    *,
    max_side: int = 2048,
    thumb_side: int = 320,
    max_pixels: int = MAX_PIXELS,
) -> ProcessedImage:
    """Decode the uploaded image at ``src`` and write what is stored of it
    into ``workdir``: ``main`` (at most ``max_side`` px on the long side)
    and ``thumb`` (at most ``thumb_side``), upright, without metadata.
    Raises :class:`MediaRejected`; files written before a failure are the
    caller's to remove with ``workdir``."""
    sniffed = sniff(src)
    if sniffed is None or sniffed.kind != "image":
        raise MediaRejected(UNSUPPORTED, "not an image type we accept")
    if sniffed.mime == "image/heic" and not HEIC_SUPPORTED:  # pragma: no cover
        raise MediaRejected(UNSUPPORTED, "HEIC decoding is not available on this server")
    try:
        with warnings.catch_warnings():
            # Between 1x and 2x MAX_IMAGE_PIXELS Pillow only warns; we refuse below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(src, formats=_PILLOW_FORMATS[sniffed.mime]) as im:
                # Image.open read the header only: nothing is decoded yet.
                width, height = im.size
                if width < 1 or height < 1 or width * height > max_pixels:
                    raise MediaRejected(
                        TOO_MANY_PIXELS, f"{width}x{height} is over {max_pixels} pixels"
                    )
                if sniffed.mime == "image/gif" and getattr(im, "n_frames", 1) > 1:
                    kept = _keep_animation(im, src, workdir, max_side)
                    if kept is not None:
                        return _finish(kept, "image/gif", im.size, workdir, thumb_side)
                    im.seek(0)
                if im.format == "JPEG":
                    # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that
                    # still leaves at least max_side: much less work for a
                    # 48 MP photo.
                    im.draft(None, (max_side, max_side))
                im.load()
                frame = _upright(im)
    except MediaRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise MediaRejected(TOO_MANY_PIXELS, str(exc)) from None
    except Exception as exc:
        # Pillow reports bad input with OSError, SyntaxError, ValueError,
        # EOFError, struct.error and more, by plugin: all of them are a
        # rejected upload, not a server error.
        raise MediaRejected(CORRUPT, f"{type(exc).__name__}: {exc}") from None
    main = _srgb(frame)
    main.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    main_path = workdir / "main.webp"
    _save_webp(main, main_path)
    main_file = MediaFile(
        variant="main", path=main_path, content_type="image/webp", extension="webp"
    )
    return _finish(main_file, "image/webp", main.size, workdir, thumb_side, source=main)


def _keep_animation(im: Image.Image, src: Path, workdir: Path, max_side: int) -> MediaFile | None:
    """Copy an animated GIF as it is when it fits ``max_side`` and decodes
    completely within the budget; ``None``: keep only its first frame.
    Raises (Pillow's errors) when a frame is corrupt."""
    width, height = im.size
    frames = getattr(im, "n_frames", 1)
    if max(width, height) > max_side or frames > MAX_GIF_FRAMES:
        return None
    if frames * width * height > MAX_GIF_PIXELS:
        return None
    for index in range(frames):  # decode every frame: a truncated one fails here
        im.seek(index)
        im.load()
    path = workdir / "main.gif"
    shutil.copyfile(src, path)
    return MediaFile(variant="main", path=path, content_type="image/gif", extension="gif")


def _finish(
    main_file: MediaFile,
    mime: str,
    size: tuple[int, int],
    workdir: Path,
    thumb_side: int,
    *,
    source: Image.Image | None = None,
) -> ProcessedImage:
    """Thumbnail and BlurHash from ``source`` (the processed main image), or
    from the kept GIF's first frame."""
    if source is None:
        with Image.open(main_file.path, formats=["GIF"]) as gif:
            gif.seek(0)
            source = _srgb(gif.convert("RGBA"))
    thumb = source.copy()
    thumb.thumbnail((thumb_side, thumb_side), Image.Resampling.LANCZOS)
    thumb_path = workdir / "thumb.webp"
    _save_webp(thumb, thumb_path)
    thumb_file = MediaFile(
        variant="thumb", path=thumb_path, content_type="image/webp", extension="webp"
    )
    return ProcessedImage(
        files=[main_file, thumb_file],
        mime=mime,
        width=size[0],
        height=size[1],
        blurhash=blurhash_of(thumb),
    )


def _upright(im: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; as it is when the EXIF
    block is unreadable (a bad tag is no reason to refuse a photo)."""
    try:
        turned = ImageOps.exif_transpose(im)
    except Exception:
        return im
    return turned if turned is not None else im


_SRGB = ImageCms.createProfile("sRGB")


def _srgb(im: Image.Image) -> Image.Image:
    """RGB, or RGBA when the image has transparency, in sRGB, with no
    metadata left in ``info`` (EXIF, XMP, ICC, comments). An embedded ICC
    profile is applied, not kept: colours stay right on any screen and
    nothing of the camera rides along."""
    alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info
    )
    target = "RGBA" if alpha else "RGB"
    icc = im.info.get("icc_profile")
    out = im
    if icc and im.mode in ("RGB", "RGBA", "CMYK"):
        try:
            converted = ImageCms.profileToProfile(
                im,
                ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                _SRGB,
                outputMode="RGBA" if im.mode == "RGBA" else "RGB",
            )
            if converted is not None:
                out = converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken profile: the pixels as they are
    if out.mode != target:
        out = out.convert(target)
    if out is im:
        out = im.copy()
    out.info = {}
    return out


def _save_webp(im: Image.Image, path: Path) -> None:
    # No exif=, icc_profile= or xmp=: Pillow's WEBP writer takes metadata
    # only from these arguments, so none is written.
    im.save(path, "WEBP", quality=WEBP_QUALITY, method=4)


def blurhash_of(im: Image.Image, *, side: int = 32) -> str:
    """The BlurHash of ``im`` (4x3 components for a landscape image, 3x4 for
    a portrait one), computed on a ``side`` px copy: the encoder is pure
    Python and costs pixels x components. Transparent parts count as white."""
    small = im.copy()
    small.thumbnail((side, side), Image.Resampling.BILINEAR)
    if small.mode != "RGB":
        rgba = small.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        small = Image.alpha_composite(white, rgba).convert("RGB")
    width, height = small.size
    data = small.tobytes()
    rows = [
        [list(data[(y * width + x) * 3 : (y * width + x) * 3 + 3]) for x in range(width)]
        for y in range(height)
    ]
    x, y = (4, 3) if width >= height else (3, 4)
    return str(blurhash.encode(rows, components_x=x, components_y=y))


def probe_video(path: Path) -> VideoInfo:
    """Display size and duration of the MP4/MOV at ``path``, read from its
    ``moov`` box with bounded reads (the file is never loaded). Raises
    :class:`MediaRejected` (:data:`CORRUPT`) when the box tree is malformed
    or has no ``moov``."""
    try:
        with path.open("rb") as f:
            movie = read_movie(f)
    except BoxError as exc:
        raise MediaRejected(CORRUPT, str(exc)) from None
    video = next((t for t in movie.tracks if t.handler == b"vide"), None)
    if video is None:  # no hdlr said "vide": the first track with a picture
        video = next((t for t in movie.tracks if t.width > 0 and t.height > 0), None)
    if video is None or video.width <= 0 or video.height <= 0:
        return VideoInfo(width=None, height=None, duration=movie.duration)
    width, height = round(video.width), round(video.height)
    if video.rotated:
        width, height = height, width
    return VideoInfo(width=width, height=height, duration=movie.duration)
