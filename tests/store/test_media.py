"""Contract of :class:`actors.store.media.MediaStore`, on both backends:
create and conflicts, attach all-or-none with ownership, retries and release,
the sweep's listing and the daily quota's sum."""

from __future__ import annotations

import msgspec
import pytest

from actors.ids import new_id
from actors.store import Conflict, Store
from actors.store.media import MediaRecord


def make_media(
    owner: str = "u1", *, at: float = 1000.0, size: int = 100, attached_to: str | None = None
) -> MediaRecord:
    media_id = new_id()
    return MediaRecord(
        id=media_id,
        owner_id=owner,
        kind="image",
        mime="image/webp",
        size=size,
        width=640,
        height=480,
        blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        url=f"/media/{media_id}.webp",
        thumbnail_url=f"/media/{media_id}_thumb.webp",
        storage_key=media_id,
        uploaded_bytes=size * 2,
        attached_to=attached_to,
        created_at=at,
    )


async def test_create_get_and_conflict(store: Store) -> None:
    media = make_media()
    await store.media.create(media)
    assert await store.media.get(media.id) == media
    assert await store.media.get("nope") is None
    with pytest.raises(Conflict) as caught:
        await store.media.create(msgspec.structs.replace(make_media(owner="u2"), id=media.id))
    assert caught.value.field == "id"
    assert await store.media.get(media.id) == media


async def test_video_fields_round_trip(store: Store) -> None:
    video = msgspec.structs.replace(
        make_media(),
        kind="video",
        mime="video/mp4",
        width=None,
        height=None,
        duration=12.5,
        blurhash=None,
    )
    video = msgspec.structs.replace(video, thumbnail_url=None)
    await store.media.create(video)
    assert await store.media.get(video.id) == video


async def test_get_many_returns_those_that_exist(store: Store) -> None:
    a, b = make_media(), make_media()
    for media in (a, b):
        await store.media.create(media)
    assert await store.media.get_many([a.id, "missing", b.id, a.id]) == {a.id: a, b.id: b}
    assert await store.media.get_many([]) == {}


async def test_attach_is_all_or_none_and_owned(store: Store) -> None:
    mine1, mine2, theirs = make_media("u1"), make_media("u1"), make_media("u2")
    for media in (mine1, mine2, theirs):
        await store.media.create(media)
    # Another owner's id refuses the whole call: nothing moves.
    assert not await store.media.attach([mine1.id, theirs.id], "u1", "post:p1")
    assert (await store.media.get(mine1.id)).attached_to is None  # type: ignore[union-attr]
    # A missing id too.
    assert not await store.media.attach([mine1.id, "missing"], "u1", "post:p1")
    assert (await store.media.get(mine1.id)).attached_to is None  # type: ignore[union-attr]
    assert await store.media.attach([mine1.id, mine2.id], "u1", "post:p1")
    got = await store.media.get_many([mine1.id, mine2.id])
    assert {m.attached_to for m in got.values()} == {"post:p1"}
    # A retry to the same target is fine; another target is refused, all or none.
    assert await store.media.attach([mine1.id, mine2.id], "u1", "post:p1")
    fresh = make_media("u1")
    await store.media.create(fresh)
    assert not await store.media.attach([fresh.id, mine1.id], "u1", "post:p2")
    assert (await store.media.get(fresh.id)).attached_to is None  # type: ignore[union-attr]
    assert await store.media.attach([], "u1", "post:p3")


async def test_release_detaches_a_targets_media(store: Store) -> None:
    a, b, other = make_media(), make_media(), make_media()
    for media in (a, b, other):
        await store.media.create(media)
    assert await store.media.attach([a.id, b.id], "u1", "post:p1")
    assert await store.media.attach([other.id], "u1", "avatar:u1")
    assert await store.media.release("post:p1") == 2
    assert await store.media.release("post:p1") == 0
    got = await store.media.get_many([a.id, b.id, other.id])
    assert [got[m.id].attached_to for m in (a, b, other)] == [None, None, "avatar:u1"]
    # Released media can be attached elsewhere.
    assert await store.media.attach([a.id], "u1", "post:p2")


async def test_sweep_lists_unattached_oldest_first(store: Store) -> None:
    old2 = make_media(at=200.0)
    old1 = make_media(at=100.0)
    attached = make_media(at=50.0)
    recent = make_media(at=5000.0)
    for media in (old2, old1, attached, recent):
        await store.media.create(media)
    assert await store.media.attach([attached.id], "u1", "post:p1")
    listed = await store.media.unattached_before(1000.0, 10)
    assert [m.id for m in listed] == [old1.id, old2.id]
    assert [m.id for m in await store.media.unattached_before(1000.0, 1)] == [old1.id]
    assert await store.media.delete(old1.id)
    assert not await store.media.delete(old1.id)
    assert [m.id for m in await store.media.unattached_before(1000.0, 10)] == [old2.id]


async def test_quota_sums_uploaded_bytes_since(store: Store) -> None:
    for at, size in ((100.0, 10), (200.0, 20), (300.0, 30)):
        await store.media.create(make_media("u1", at=at, size=size))
    await store.media.create(make_media("u2", at=300.0, size=1000))
    # uploaded_bytes is twice the size in make_media.
    assert await store.media.uploaded_bytes_since("u1", 0.0) == 120
    assert await store.media.uploaded_bytes_since("u1", 200.0) == 100
    assert await store.media.uploaded_bytes_since("u1", 301.0) == 0
    assert await store.media.uploaded_bytes_since("nobody", 0.0) == 0
