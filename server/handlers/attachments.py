"""Attaching uploaded media to what uses them: posts, messages, avatars.

A medium may be attached only by its uploader, only once it is stored
(a record exists only for a finished upload), and to one thing. Attaching is
one store call, all or none (:meth:`~actors.store.media.MediaStore.attach`),
made *before* the post, message or profile that shows the media is written;
if that write then fails, the media are released again, and the sweep
deletes what stays unattached for a day.
"""

from __future__ import annotations

from actors.store.media import MediaRecord
from protocol.errors import ErrorCode, ProtocolError
from server.context import Services


def _refused() -> ProtocolError:
    # One answer for missing, foreign and already used media: which of the
    # three it is would tell a caller about other users' uploads.
    return ProtocolError(ErrorCode.FORBIDDEN, "media must be your own, unused uploads")


async def attach(
    services: Services, owner: str, media_ids: list[str], target: str, *, kind: str | None = None
) -> list[MediaRecord]:
    """Attach ``media_ids`` (in order, no repeats) to ``target`` for
    ``owner``; ``kind`` (``"image"``) restricts what is accepted. Returns the
    records, in the order given. ``forbidden`` (nothing attached) when one
    is missing, another user's, of the wrong kind or attached elsewhere."""
    if not media_ids:
        return []
    if len(set(media_ids)) != len(media_ids):
        raise ProtocolError(ErrorCode.INVALID_FIELD, "a medium is listed twice")
    media = services.store.media
    found = await media.get_many(media_ids)
    records = [found.get(media_id) for media_id in media_ids]
    for record in records:
        if record is None or record.owner_id != owner or (kind and record.kind != kind):
            raise _refused()
    if not await media.attach(media_ids, owner, target):
        raise _refused()
    return [record for record in records if record is not None]


async def release(services: Services, target: str) -> None:
    """What ``target`` held goes back to the sweep (its post was deleted, the
    write that would have shown it failed, an avatar was replaced)."""
    await services.store.media.release(target)


async def replace(
    services: Services, owner: str, held: list[str], media_ids: list[str], target: str
) -> list[MediaRecord]:
    """``target``, which holds ``held``, holds ``media_ids`` instead: they are
    attached first (those it holds already pass), so a refusal changes
    nothing; then, if some of ``held`` were dropped, they go back to the
    sweep (the store detaches by target only: all of it, then the new list
    again)."""
    records = await attach(services, owner, media_ids, target)
    if set(held) - set(media_ids):
        await release(services, target)
        records = await attach(services, owner, media_ids, target)
    return records


def post_target(post_id: str) -> str:
    return f"post:{post_id}"


def message_target(conversation_id: str, sender_id: str, client_key: str) -> str:
    """Per send attempt, so that a failed send releases exactly its media
    and a retry with the same key attaches the same media again."""
    return f"message:{conversation_id}:{sender_id}:{client_key}"


def avatar_target(user_id: str) -> str:
    return f"avatar:{user_id}"


def product_target(product_id: str) -> str:
    return f"product:{product_id}"
