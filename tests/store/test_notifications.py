"""Contract of :class:`actors.store.notifications.NotificationStore`, on both
backends: grouping by key within a window, one row per actor, undo, pages,
read marks and the unread count, mute settings."""

from __future__ import annotations

from actors.ids import new_id
from actors.store import Store
from actors.store.notifications import NewNotification

WINDOW = 3600.0


def event(
    actor: str, at: float, *, key: str = "like_post:p1", recipient: str = "r", **fields: str
) -> NewNotification:
    return NewNotification(
        id=new_id(),
        recipient_id=recipient,
        kind=key.split(":", maxsplit=1)[0],
        group_key=key,
        actor_id=actor,
        at=at,
        **fields,  # type: ignore[arg-type]
    )


async def test_actors_of_one_target_group_into_one_row(store: Store) -> None:
    inbox = store.notifications
    first = await inbox.add(event("a1", 100.0, post_id="p1"), window=WINDOW)
    assert first is not None and (first.actor_ids, first.actor_count) == (["a1"], 1)
    for i, at in enumerate((110.0, 120.0, 130.0), start=2):
        row = await inbox.add(event(f"a{i}", at, post_id="p1"), window=WINDOW)
        assert row is not None and row.id == first.id
    assert row.actor_count == 4 and row.actor_ids == ["a4", "a3", "a2"]
    assert (row.updated_at, row.created_at, row.post_id) == (130.0, 100.0, "p1")
    assert await inbox.add(event("a2", 140.0), window=WINDOW) is None  # a repeat
    other = await inbox.add(event("a1", 150.0, key="like_post:p2"), window=WINDOW)
    assert other is not None and other.id != first.id
    assert await inbox.unread_count("r") == 2


async def test_a_read_or_old_group_is_not_joined(store: Store) -> None:
    inbox = store.notifications
    first = await inbox.add(event("a1", 100.0), window=WINDOW)
    late = await inbox.add(event("a2", 100.0 + WINDOW + 1), window=WINDOW)
    assert first is not None and late is not None and late.id != first.id
    assert await inbox.mark_read("r") == 0
    again = await inbox.add(event("a3", 100.0 + WINDOW + 2), window=WINDOW)
    assert again is not None and again.id not in (first.id, late.id)
    assert await inbox.unread_count("r") == 1


async def test_undo_takes_one_actor_back_and_the_row_with_the_last(store: Store) -> None:
    inbox = store.notifications
    for i in range(3):
        await inbox.add(event(f"a{i}", 100.0 + i), window=WINDOW)
    removed = await inbox.remove("r", "like_post:p1", "a2")
    assert removed is not None
    row_id, row = removed
    assert row is not None and (row.actor_count, row.actor_ids) == (2, ["a1", "a0"])
    assert await inbox.remove("r", "like_post:p1", "a2") is None
    await inbox.remove("r", "like_post:p1", "a1")
    assert await inbox.remove("r", "like_post:p1", "a0") == (row_id, None)
    assert await inbox.page("r", before=None, limit=10) == []
    assert await inbox.unread_count("r") == 0
    # A read notification stays as it was.
    await inbox.add(event("a9", 200.0), window=WINDOW)
    await inbox.mark_read("r")
    assert await inbox.remove("r", "like_post:p1", "a9") is None
    [kept] = await inbox.page("r", before=None, limit=10)
    assert (kept.actor_count, kept.read) == (1, True)


async def test_pages_read_marks_and_other_inboxes(store: Store) -> None:
    inbox = store.notifications
    rows = []
    for i in range(5):
        row = await inbox.add(event("a", 100.0 + i, key=f"follow:{i}"), window=WINDOW)
        assert row is not None
        rows.append(row)
    await inbox.add(event("a", 100.0, key="follow:x", recipient="someone else"), window=WINDOW)
    page = await inbox.page("r", before=None, limit=2)
    assert [r.id for r in page] == [rows[4].id, rows[3].id]
    rest = await inbox.page("r", before=(page[-1].updated_at, page[-1].id), limit=10)
    assert [r.id for r in rest] == [rows[2].id, rows[1].id, rows[0].id]
    assert await inbox.mark_read("r", ids=[rows[4].id, "not mine"]) == 4
    assert await inbox.mark_read("r", up_to=(rows[2].updated_at, rows[2].id)) == 1
    assert [r.read for r in await inbox.page("r", before=None, limit=10)] == [
        True,
        False,
        True,
        True,
        True,
    ]
    assert await inbox.mark_read("r", ids=[]) == 1
    assert await inbox.mark_read("r") == 0
    assert await inbox.unread_count("someone else") == 1


async def test_mute_settings(store: Store) -> None:
    inbox = store.notifications
    assert await inbox.muted("u") == []
    await inbox.set_muted("u", ["like_post", "follow", "like_post"])
    assert await inbox.muted("u") == ["follow", "like_post"]
    await inbox.set_muted("u", [])
    assert await inbox.muted("u") == []
