"""Contract of the live-streaming ports (:mod:`actors.store.live`), on both
backends: streams (create, get, save, one live stream per host, the live-now,
scheduled and per-host lists, unique viewers), the chat log (batches with
retried client keys, recent lines, deletion, the full log) and bans."""

from __future__ import annotations

import msgspec
import pytest

from actors.store import Conflict, Store
from actors.store.live import ChatLineRecord, StreamRecord
from tests.store.records import T0, make_line, make_stream


def ids(records: list[StreamRecord] | list[ChatLineRecord]) -> list[str]:
    return [r.id for r in records]


def live(stream: StreamRecord, **changes: object) -> StreamRecord:
    """``stream`` gone live (as its actor would save it)."""
    return msgspec.structs.replace(stream, status="live", start_time=T0 + 1, **changes)


# --------------------------------------------------------------------------- streams


async def test_create_get_many_and_id_conflict(store: Store) -> None:
    stream = make_stream("h1", scheduled_time=T0 + 3600)
    other = make_stream("h2")
    await store.streams.create(stream)
    await store.streams.create(other)
    assert await store.streams.get(stream.id) == stream
    assert await store.streams.get("nope") is None
    assert await store.streams.get_many([stream.id, "nope", other.id]) == {
        stream.id: stream,
        other.id: other,
    }
    assert await store.streams.get_many([]) == {}
    taken = msgspec.structs.replace(make_stream("h3"), id=stream.id)
    with pytest.raises(Conflict) as caught:
        await store.streams.create(taken)
    assert caught.value.field == "id"
    assert await store.streams.get(stream.id) == stream


async def test_save_replaces_the_record(store: Store) -> None:
    stream = make_stream("h1")
    await store.streams.create(stream)
    saved = live(
        stream,
        title="new title",
        tags=[],
        moderators=["m1", "m2"],
        viewer_count=12,
        peak_viewers=30,
        unique_viewers=44,
        slow_mode_seconds=5,
        chat_mode="followers",
        pinned_message_id="line1",
    )
    await store.streams.save(saved)
    assert await store.streams.get(stream.id) == saved
    ended = msgspec.structs.replace(saved, status="ended", end_time=T0 + 60, pinned_message_id=None)
    await store.streams.save(ended)
    assert await store.streams.get(stream.id) == ended


async def test_save_of_an_unknown_stream_writes_nothing(store: Store) -> None:
    stream = make_stream("h1")
    await store.streams.save(stream)
    assert await store.streams.get(stream.id) is None


async def test_one_live_stream_per_host(store: Store) -> None:
    first = make_stream("h1", status="live")
    await store.streams.create(first)
    assert await store.streams.live_of_host("h1") == first
    assert await store.streams.live_of_host("h2") is None

    # create refuses a second live stream of the host, and writes nothing
    second = make_stream("h1", status="live", at=T0 + 1)
    with pytest.raises(Conflict) as caught:
        await store.streams.create(second)
    assert caught.value.field == "live"
    assert await store.streams.get(second.id) is None

    # save refuses to make one live, and the stored record stays as it was
    scheduled = make_stream("h1", at=T0 + 2)
    await store.streams.create(scheduled)
    with pytest.raises(Conflict) as caught:
        await store.streams.save(live(scheduled, title="changed"))
    assert caught.value.field == "live"
    assert await store.streams.get(scheduled.id) == scheduled
    assert await store.streams.live_of_host("h1") == first

    # other hosts, and any number of scheduled or ended streams, are free
    elsewhere = make_stream("h2", status="live")
    await store.streams.create(elsewhere)
    await store.streams.create(make_stream("h1", status="ended"))
    # saving the live stream itself again is no second one
    await store.streams.save(msgspec.structs.replace(first, viewer_count=3))

    # ending it frees the host
    await store.streams.save(msgspec.structs.replace(first, status="ended", end_time=T0 + 9))
    assert await store.streams.live_of_host("h1") is None
    now_live = live(scheduled)
    await store.streams.save(now_live)
    assert await store.streams.live_of_host("h1") == now_live
    assert await store.streams.live_of_host("h2") == elsewhere


async def test_live_now_pages_by_viewers(store: Store) -> None:
    streams = [
        make_stream(f"h{i}", status="live", viewer_count=count)
        for i, count in enumerate([5, 50, 5, 0, 7, 50])
    ]
    for stream in streams:
        await store.streams.create(stream)
    await store.streams.create(make_stream("hs", viewer_count=999))
    await store.streams.create(make_stream("he", status="ended", viewer_count=999))
    expected = sorted(streams, key=lambda s: (s.viewer_count, s.id), reverse=True)

    assert ids(await store.streams.live_now(before=None, limit=10)) == ids(expected)
    pages: list[StreamRecord] = []
    before = None
    while page := await store.streams.live_now(before=before, limit=2):
        assert len(page) <= 2
        pages += page
        before = (float(page[-1].viewer_count), page[-1].id)
    assert ids(pages) == ids(expected)
    assert await store.streams.live_now(before=None, limit=0) == []


async def test_scheduled_by_hosts_soonest_first(store: Store) -> None:
    later = make_stream("h1", scheduled_time=T0 + 7200)
    soon = make_stream("h2", scheduled_time=T0 + 60)
    middle = make_stream("h1", scheduled_time=T0 + 600)
    untimed = make_stream("h2")
    for stream in (later, soon, middle, untimed):
        await store.streams.create(stream)
    await store.streams.create(make_stream("h1", status="live", scheduled_time=T0))
    await store.streams.create(make_stream("h2", status="ended", scheduled_time=T0))
    await store.streams.create(make_stream("h3", scheduled_time=T0))

    found = await store.streams.scheduled_by_hosts(["h1", "h2"], 10)
    assert ids(found) == ids([soon, middle, later, untimed])
    assert ids(await store.streams.scheduled_by_hosts(["h2", "h1"], 2)) == ids([soon, middle])
    assert await store.streams.scheduled_by_hosts([], 10) == []
    assert await store.streams.scheduled_by_hosts(["nobody"], 10) == []


async def test_by_host_newest_first(store: Store) -> None:
    streams = [make_stream("h1", status="ended", at=T0 + i) for i in range(5)]
    streams.append(make_stream("h1", at=T0 + 2))  # a tie on created_at
    for stream in streams:
        await store.streams.create(stream)
    await store.streams.create(make_stream("h2", at=T0 + 10))
    expected = sorted(streams, key=lambda s: (s.created_at, s.id), reverse=True)

    assert ids(await store.streams.by_host("h1", before=None, limit=10)) == ids(expected)
    pages: list[StreamRecord] = []
    before = None
    while page := await store.streams.by_host("h1", before=before, limit=4):
        pages += page
        before = (page[-1].created_at, page[-1].id)
    assert ids(pages) == ids(expected)


async def test_add_viewer_is_true_once_per_stream(store: Store) -> None:
    assert await store.streams.add_viewer("s1", "u1", T0) is True
    assert await store.streams.add_viewer("s1", "u1", T0 + 5) is False
    assert await store.streams.add_viewer("s1", "u2", T0) is True
    assert await store.streams.add_viewer("s2", "u1", T0) is True


# --------------------------------------------------------------------------- chat


async def test_append_skips_retried_client_keys(store: Store) -> None:
    first = make_line("s1", "u1", at=T0, client_key="k1")
    await store.stream_chat.append([first])
    batch = [
        make_line("s1", "u1", at=T0 + 1, text="again", client_key="k1"),  # retried send
        make_line("s1", "u2", at=T0 + 2, client_key="k1"),  # another user's key
        make_line("s2", "u1", at=T0 + 3, client_key="k1"),  # another stream
        make_line("s1", "u1", at=T0 + 4, text="no key"),
        make_line("s1", "u1", at=T0 + 5, text="no key"),
        make_line("s1", "u3", at=T0 + 6, client_key="k9"),
        make_line("s1", "u3", at=T0 + 7, client_key="k9"),  # twice in one batch
    ]
    await store.stream_chat.append(batch)
    # A batch retried whole (its first attempt was stored) adds nothing.
    await store.stream_chat.append(batch)
    await store.stream_chat.append([])

    log = await store.stream_chat.page("s1", after=None, limit=50)
    assert log == [first, batch[1], batch[3], batch[4], batch[5]]
    assert await store.stream_chat.get(batch[0].id) is None
    assert await store.stream_chat.get(batch[2].id) == batch[2]


async def test_recent_is_newest_not_deleted_oldest_first(store: Store) -> None:
    lines = [make_line("s1", f"u{i}", at=T0 + i) for i in range(6)]
    await store.stream_chat.append(lines)
    await store.stream_chat.append([make_line("s2", at=T0 + 100)])
    assert await store.stream_chat.delete(lines[5].id) is True
    assert await store.stream_chat.delete(lines[3].id) is True

    assert await store.stream_chat.recent("s1", 3) == [lines[1], lines[2], lines[4]]
    assert ids(await store.stream_chat.recent("s1", 10)) == ids(
        [lines[0], lines[1], lines[2], lines[4]]
    )
    assert await store.stream_chat.recent("s1", 0) == []
    assert await store.stream_chat.recent("nope", 5) == []


async def test_delete_once(store: Store) -> None:
    line = make_line("s1", text="spam")
    await store.stream_chat.append([line])
    assert await store.stream_chat.delete(line.id) is True
    assert await store.stream_chat.delete(line.id) is False
    assert await store.stream_chat.delete("nope") is False
    assert await store.stream_chat.get(line.id) == msgspec.structs.replace(line, deleted=True)


async def test_page_is_the_full_log_oldest_first(store: Store) -> None:
    lines = [make_line("s1", at=T0 + i // 2) for i in range(7)]  # ties on created_at
    await store.stream_chat.append(lines)
    await store.stream_chat.append([make_line("s2", at=T0)])
    await store.stream_chat.delete(lines[2].id)
    expected = sorted(lines, key=lambda line: (line.created_at, line.id))
    expected = [
        msgspec.structs.replace(line, deleted=True) if line.id == lines[2].id else line
        for line in expected
    ]

    pages: list[ChatLineRecord] = []
    after = None
    while page := await store.stream_chat.page("s1", after=after, limit=3):
        assert len(page) <= 3
        pages += page
        after = (page[-1].created_at, page[-1].id)
    assert pages == expected
    assert await store.stream_chat.page("s1", after=None, limit=0) == []


# --------------------------------------------------------------------------- bans


async def test_bans(store: Store) -> None:
    assert await store.stream_bans.is_banned("s1", "u1") is False
    assert await store.stream_bans.ban("s1", "u1", T0) is True
    assert await store.stream_bans.ban("s1", "u1", T0 + 1) is False
    assert await store.stream_bans.is_banned("s1", "u1") is True
    assert await store.stream_bans.is_banned("s1", "u2") is False
    assert await store.stream_bans.is_banned("s2", "u1") is False
