"""Contract of the messaging ports (conversations, members, the message log),
run against every backend (see ``tests/store/backends.py``)."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from actors.ids import new_id
from actors.store import Conflict, Store
from actors.store.messaging import ConversationSummaryUpdate
from tests.store.backends import Backend
from tests.store.records import (
    T0,
    make_conversation,
    make_entry,
    make_member,
    new_group,
    pair_key,
    seqs,
    summary_of,
)


async def test_conversation_create_get_and_members(store: Store) -> None:
    group = make_conversation("carol", title="Friends")
    # Ordered by joined_at, then user id: bob and dave joined at the same time.
    members = [
        make_member(group.id, "dave", joined_at=T0 + 1),
        make_member(group.id, "carol", role="admin", joined_at=T0),
        make_member(group.id, "bob", joined_at=T0 + 1),
    ]
    await store.conversations.create(group, members)

    assert await store.conversations.get(group.id) == group
    assert await store.conversations.get(new_id()) is None
    assert [m.user_id for m in await store.conversations.members(group.id)] == [
        "carol",
        "bob",
        "dave",
    ]
    assert await store.conversations.get_member(group.id, "carol") == members[1]
    assert await store.conversations.get_member(group.id, "eve") is None
    assert await store.conversations.members(new_id()) == []

    # Groups have no direct_key: any number of them coexist.
    other = make_conversation("carol")
    await store.conversations.create(other, [])
    assert await store.conversations.get(other.id) == other


async def test_second_direct_conversation_for_a_pair_is_a_conflict(store: Store) -> None:
    key = pair_key("ann", "ben")
    first = make_conversation("ann", kind="direct", direct_key=key)
    await store.conversations.create(
        first, [make_member(first.id, "ann"), make_member(first.id, "ben")]
    )
    second = make_conversation("ben", kind="direct", direct_key=key)

    with pytest.raises(Conflict) as caught:
        await store.conversations.create(second, [make_member(second.id, "ben")])

    assert caught.value.field == "direct_key"
    assert await store.conversations.get(second.id) is None
    assert await store.conversations.members(second.id) == []
    assert await store.conversations.get(first.id) == first


async def test_get_or_create_direct_creates_exactly_once_under_concurrency(
    store: Store,
) -> None:
    key = pair_key("uma", "vic")
    attempts = [make_conversation("uma", kind="direct", direct_key=key) for _ in range(20)]

    results = await asyncio.gather(
        *(
            store.conversations.get_or_create_direct(
                c, [make_member(c.id, "uma"), make_member(c.id, "vic")]
            )
            for c in attempts
        )
    )

    winners = [record for record, created in results if created]
    assert len(winners) == 1
    winner = winners[0]
    assert {record.id for record, _ in results} == {winner.id}
    assert all(record == winner for record, _ in results)
    assert await store.conversations.get(winner.id) == winner
    assert [m.user_id for m in await store.conversations.members(winner.id)] == ["uma", "vic"]
    for attempt in attempts:
        if attempt.id != winner.id:
            assert await store.conversations.get(attempt.id) is None
            assert await store.conversations.members(attempt.id) == []

    late = make_conversation("vic", kind="direct", direct_key=key)
    again, created = await store.conversations.get_or_create_direct(
        late, [make_member(late.id, "vic")]
    )
    assert (again, created) == (winner, False)


async def test_get_or_create_direct_with_a_taken_id_is_a_conflict(store: Store) -> None:
    group = await new_group(store, "ann")
    direct = make_conversation("ann", kind="direct", direct_key=pair_key("ann", "ben"))
    direct.id = group.id

    with pytest.raises(Conflict) as caught:
        await store.conversations.get_or_create_direct(direct, [make_member(group.id, "ben")])

    assert caught.value.field == "id"
    assert await store.conversations.get(group.id) == group
    assert [m.user_id for m in await store.conversations.members(group.id)] == ["ann"]
    fresh = make_conversation("ann", kind="direct", direct_key=direct.direct_key)
    record, created = await store.conversations.get_or_create_direct(fresh, [])
    assert (record, created) == (fresh, True)


async def test_add_members_is_idempotent_and_remove_member_reports(store: Store) -> None:
    group = await new_group(store, "ann", "ben")
    await store.messages.append(group.id, [], {"ben": 4}, None)

    # ben again (another role and read position: ignored), cid twice, dan.
    await store.conversations.add_members(
        [
            make_member(group.id, "ben", role="admin", joined_at=T0 + 9),
            make_member(group.id, "cid", joined_at=T0 + 2),
            make_member(group.id, "cid", joined_at=T0 + 3),
            make_member(group.id, "dan", joined_at=T0 + 1),
        ]
    )
    await store.conversations.add_members([])

    members = await store.conversations.members(group.id)
    assert [(m.user_id, m.joined_at) for m in members] == [
        ("ann", T0),
        ("ben", T0),
        ("dan", T0 + 1),
        ("cid", T0 + 2),
    ]
    ben = await store.conversations.get_member(group.id, "ben")
    assert ben is not None and (ben.role, ben.read_seq) == ("member", 4)

    assert await store.conversations.remove_member(group.id, "ben") is True
    assert await store.conversations.remove_member(group.id, "ben") is False
    assert await store.conversations.get_member(group.id, "ben") is None
    assert [m.user_id for m in await store.conversations.members(group.id)] == [
        "ann",
        "dan",
        "cid",
    ]


async def test_remove_member_can_promote_another_in_the_same_write(store: Store) -> None:
    group = make_conversation("ann")
    await store.conversations.create(
        group,
        [
            make_member(group.id, "ann", role="admin", joined_at=T0),
            make_member(group.id, "ben", joined_at=T0 + 1),
            make_member(group.id, "cid", joined_at=T0 + 2),
        ],
    )
    await store.messages.append(group.id, [], {"ben": 5, "cid": 2}, None)
    ben_before = await store.conversations.get_member(group.id, "ben")
    assert ben_before is not None

    assert await store.conversations.remove_member(group.id, "ann", promote="ben") is True

    members = await store.conversations.members(group.id)
    assert [(m.user_id, m.role) for m in members] == [("ben", "admin"), ("cid", "member")]
    admins = [m for m in members if m.role == "admin"]
    assert admins == [msgspec.structs.replace(ben_before, role="admin")]
    assert (admins[0].read_seq, admins[0].joined_at) == (5, T0 + 1)

    # Removing a non-member still promotes (a retry after a crash midway on
    # MongoDB); promoting a non-member is ignored.
    assert await store.conversations.remove_member(group.id, "ann", promote="cid") is False
    assert await store.conversations.remove_member(group.id, "ben", promote="zed") is True
    assert [(m.user_id, m.role) for m in await store.conversations.members(group.id)] == [
        ("cid", "admin")
    ]
    assert await store.conversations.get_member(group.id, "zed") is None
    with pytest.raises(ValueError):
        await store.conversations.remove_member(group.id, "cid", promote="cid")
    assert [m.user_id for m in await store.conversations.members(group.id)] == ["cid"]


async def test_list_for_user_pages_by_activity_with_a_cursor(store: Store) -> None:
    # Activity times; two conversations share T0 + 30, so their ids break the tie.
    times = [T0 + 10, T0 + 30, T0 + 20, T0 + 30, T0 + 5]
    conversations = [await new_group(store, "me", "you", at=at) for at in times]
    await new_group(store, "you", "them", at=T0 + 99)  # not mine
    expected = sorted(conversations, key=lambda c: (c.last_activity_at, c.id), reverse=True)

    pages: list[list[str]] = []
    before: tuple[float, str] | None = None
    while True:
        page = await store.conversations.list_for_user("me", before=before, limit=2)
        if not page:
            break
        assert all(member.user_id == "me" for _, member in page)
        assert all(member.conversation_id == c.id for c, member in page)
        pages.append([c.id for c, _ in page])
        last = page[-1][0]
        before = (last.last_activity_at, last.id)

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [cid for page in pages for cid in page] == [c.id for c in expected]
    assert await store.conversations.list_for_user("me", before=None, limit=0) == []
    assert await store.conversations.list_for_user("nobody", before=None, limit=10) == []

    # A message moves its conversation to the front, with the new summary.
    oldest = expected[-1]
    entry = make_entry(oldest.id, 1, "you", text="wake up")
    entry.created_at = T0 + 100
    await store.messages.append(oldest.id, [entry], {"me": 1}, summary_of([entry]))
    first, member = (await store.conversations.list_for_user("me", before=None, limit=1))[0]
    assert first.id == oldest.id
    assert (first.last_seq, first.last_activity_at, first.last_preview) == (
        1,
        T0 + 100,
        "wake up",
    )
    assert first.last_sender_id == "you"
    assert member.read_seq == 1


async def test_changed_since_pages_oldest_first_after_a_cursor(store: Store) -> None:
    times = [T0 + 30, T0 + 10, T0 + 20, T0 + 20, T0 + 5]
    conversations = [await new_group(store, "me", at=at) for at in times]
    await new_group(store, "other", at=T0 + 20)
    expected = sorted(conversations, key=lambda c: (c.last_activity_at, c.id))

    changed = await store.conversations.changed_since("me", after=None, limit=10)
    assert [c.id for c, _ in changed] == [c.id for c in expected]
    assert all(member.user_id == "me" for _, member in changed)
    assert all(member.conversation_id == c.id for c, member in changed)
    first_two = await store.conversations.changed_since("me", after=None, limit=2)
    assert [c.id for c, _ in first_two] == [c.id for c in expected[:2]]
    # Strictly after the cursor, the second of the two at T0 + 20 included.
    third = expected[2]
    assert third.last_activity_at == T0 + 20
    after_third = await store.conversations.changed_since(
        "me", after=(third.last_activity_at, third.id), limit=10
    )
    assert [c.id for c, _ in after_third] == [c.id for c in expected[3:]]
    last = expected[-1]
    assert (
        await store.conversations.changed_since(
            "me", after=(last.last_activity_at, last.id), limit=10
        )
        == []
    )
    assert await store.conversations.changed_since("me", after=(T0 + 31, ""), limit=10) == []
    assert await store.conversations.changed_since("me", after=None, limit=0) == []
    assert await store.conversations.changed_since("nobody", after=None, limit=10) == []


async def test_changed_since_pages_through_many_conversations_with_one_timestamp(
    store: Store,
) -> None:
    """More than a page of conversations changed at the same instant: paging
    by ``(last_activity_at, id)`` visits each exactly once (paging by time
    alone would repeat or skip them)."""
    same = [await new_group(store, "me", at=T0 + 50) for _ in range(7)]
    before = await new_group(store, "me", at=T0 + 49)
    after = await new_group(store, "me", at=T0 + 51)
    expected = [before.id, *sorted(c.id for c in same), after.id]

    seen: list[str] = []
    pages = 0
    cursor: tuple[float, str] | None = None
    while True:
        page = await store.conversations.changed_since("me", after=cursor, limit=3)
        if not page:
            break
        pages += 1
        seen += [c.id for c, _ in page]
        last = page[-1][0]
        cursor = (last.last_activity_at, last.id)

    assert seen == expected  # no repeats, no gaps, oldest change first
    assert pages == 3


async def test_append_batches_then_read_the_log(store: Store) -> None:
    group = await new_group(store, "ann", "ben")
    cid = group.id
    first = [
        make_entry(cid, 1, "ann", text="hello", client_key="k1"),
        make_entry(cid, 2, "ben", text="hi", media_url="https://m.example/1.webp"),
        make_entry(cid, 3, "ann", text="third", client_key="k3"),
    ]
    await store.messages.append(cid, first, {"ann": 3}, summary_of(first))
    second = [
        make_entry(cid, 4, "ann", kind="edit", text="hello!", target_seq=1),
        make_entry(cid, 5, "ben", kind="delete", target_seq=2),
        make_entry(cid, 6, "ben", text="later", client_key="k1"),  # same key, other sender
    ]
    await store.messages.append(cid, second, {"ben": 6, "stranger": 9}, summary_of(second))
    # An edit of an older message: the preview stays.
    third = [make_entry(cid, 7, "ann", kind="edit", text="3rd", target_seq=3)]
    await store.messages.append(cid, third, {}, summary_of(third))

    # History: messages only, newest first, as they are now.
    history = await store.messages.history(cid, before_seq=None, limit=10)
    assert seqs(history) == [6, 3, 2, 1]
    by_seq = {m.seq: m for m in history}
    assert (by_seq[1].text, by_seq[1].edited_at, by_seq[1].deleted) == ("hello!", T0 + 4, False)
    assert (by_seq[2].text, by_seq[2].media_url, by_seq[2].deleted) == ("", "", True)
    assert (by_seq[3].text, by_seq[3].edited_at) == ("3rd", T0 + 7)
    assert by_seq[6] == second[2]
    assert seqs(await store.messages.history(cid, before_seq=3, limit=10)) == [2, 1]
    assert seqs(await store.messages.history(cid, before_seq=7, limit=2)) == [6, 3]
    assert await store.messages.history(cid, before_seq=1, limit=10) == []
    assert await store.messages.history(cid, before_seq=None, limit=0) == []

    # Since: every kind, oldest first.
    log = await store.messages.since(cid, 0, 100)
    assert seqs(log) == [1, 2, 3, 4, 5, 6, 7]
    assert [m.kind for m in log] == ["message"] * 3 + ["edit", "delete", "message", "edit"]
    assert log[3] == second[0] and log[4] == second[1] and log[6] == third[0]
    assert seqs(await store.messages.since(cid, 4, 2)) == [5, 6]
    assert await store.messages.since(cid, 7, 10) == []

    assert await store.messages.get(cid, 4) == second[0]
    assert await store.messages.get(cid, 99) is None
    assert await store.messages.get(new_id(), 1) is None
    found = await store.messages.get_by_client_key(cid, "ann", "k1")
    assert found is not None and (found.seq, found.text) == (1, "hello!")
    assert await store.messages.get_by_client_key(cid, "ben", "k1") == second[2]
    assert await store.messages.get_by_client_key(cid, "ben", "k3") is None
    assert await store.messages.last_seq(cid) == 7
    assert await store.messages.last_seq(new_id()) == 0

    # Unread: messages, not deleted, from others, after read_seq.
    assert await store.messages.unread_counts("ann", {cid: 0}) == {cid: 1}  # 6 (2 is deleted)
    assert await store.messages.unread_counts("ben", {cid: 0}) == {cid: 2}  # 1 and 3
    assert await store.messages.unread_counts("ben", {cid: 1}) == {cid: 1}
    assert await store.messages.unread_counts("ben", {cid: 7}) == {cid: 0}

    members = {m.user_id: m.read_seq for m in await store.conversations.members(cid)}
    assert members == {"ann": 3, "ben": 6}  # no member made for "stranger"
    summary = await store.conversations.get(cid)
    assert summary is not None
    assert (summary.last_seq, summary.last_activity_at) == (7, T0 + 7)
    assert (summary.last_preview, summary.last_sender_id) == ("later", "ben")


async def test_unread_counts_of_several_conversations_at_once(store: Store) -> None:
    busy = await new_group(store, "ann", "ben")
    quiet = await new_group(store, "ann", "ben")
    mine = await new_group(store, "ann", "ben")
    empty = await new_group(store, "ann")
    batch = [
        make_entry(busy.id, 1, "ben", text="one"),
        make_entry(busy.id, 2, "ben", text="two"),
        make_entry(busy.id, 3, "ann", text="mine"),
        make_entry(busy.id, 4, "ben", text="gone"),
        make_entry(busy.id, 5, "ben", kind="delete", target_seq=4),
        make_entry(busy.id, 6, "ben", kind="edit", text="uno", target_seq=1),
    ]
    await store.messages.append(busy.id, batch, {}, summary_of(batch))
    await store.messages.append(quiet.id, [make_entry(quiet.id, 1, "ben")], {}, None)
    await store.messages.append(mine.id, [make_entry(mine.id, 1, "ann")], {}, None)
    unknown = new_id()

    counts = await store.messages.unread_counts(
        "ann", {busy.id: 0, quiet.id: 1, mine.id: 0, empty.id: 0, unknown: 0}
    )

    # busy: 1 and 2 (3 is ann's own, 4 is deleted, 5 and 6 are not messages).
    assert counts == {busy.id: 2, quiet.id: 0, mine.id: 0, empty.id: 0, unknown: 0}
    assert await store.messages.unread_counts("ann", {busy.id: 1, quiet.id: 0}) == {
        busy.id: 1,
        quiet.id: 1,
    }
    assert await store.messages.unread_counts("ben", {busy.id: 0}) == {busy.id: 1}
    assert await store.messages.unread_counts("ann", {}) == {}


async def test_unread_counts_of_a_page_of_100_conversations(store: Store) -> None:
    """A conversation list asks for a whole page at once."""
    groups = [await new_group(store, "ann", "ben") for _ in range(100)]
    for i, group in enumerate(groups):
        entries = [make_entry(group.id, seq, "ben") for seq in range(1, i % 5 + 1)]
        if entries:
            await store.messages.append(group.id, entries, {}, None)
    read_seqs = {group.id: i % 2 for i, group in enumerate(groups)}

    counts = await store.messages.unread_counts("ann", read_seqs)

    assert counts == {group.id: max(0, i % 5 - i % 2) for i, group in enumerate(groups)}


async def test_edit_applies_to_live_messages_only(store: Store) -> None:
    group = await new_group(store, "ann")
    cid = group.id
    batch = [
        make_entry(cid, 1, "ann", text="one"),
        make_entry(cid, 2, "ann", text="two"),
        make_entry(cid, 3, "ann", kind="delete", target_seq=2),
        make_entry(cid, 4, "ann", kind="edit", text="uno", target_seq=1),
        make_entry(cid, 5, "ann", kind="edit", text="eins", target_seq=1),  # last one wins
        make_entry(cid, 6, "ann", kind="edit", text="zwei", target_seq=2),  # deleted: stays
        make_entry(cid, 7, "ann", kind="edit", text="x", target_seq=4),  # not a message
        make_entry(cid, 8, "ann", kind="delete", target_seq=99),  # no such entry
    ]
    await store.messages.append(cid, batch, {}, summary_of(batch))

    one, two, edit = [await store.messages.get(cid, seq) for seq in (1, 2, 4)]
    assert one is not None and (one.text, one.edited_at) == ("eins", T0 + 5)
    assert two is not None and (two.text, two.deleted, two.edited_at) == ("", True, None)
    assert edit == batch[3]
    assert await store.messages.last_seq(cid) == 8


async def test_duplicate_client_key_fails_the_whole_batch(store: Store) -> None:
    group = await new_group(store, "ann", "ben")
    cid = group.id
    first = [make_entry(cid, 1, "ann", text="hello", client_key="k1")]
    await store.messages.append(cid, first, {"ann": 1}, summary_of(first))
    before = await store.conversations.get(cid)

    clash = [
        make_entry(cid, 2, "ann", text="new", client_key="k2"),
        make_entry(cid, 3, "ann", kind="edit", text="changed", target_seq=1),
        make_entry(cid, 4, "ann", text="retry", client_key="k1"),
        make_entry(cid, 5, "ben", text="after"),
    ]
    with pytest.raises(Conflict) as caught:
        await store.messages.append(cid, clash, {"ben": 5}, summary_of(clash))

    assert caught.value.field == "client_key"
    assert await store.messages.since(cid, 1, 10) == []
    assert await store.messages.last_seq(cid) == 1
    assert await store.messages.get_by_client_key(cid, "ann", "k2") is None
    assert await store.messages.get(cid, 1) == first[0]  # the edit was not applied
    ben = await store.conversations.get_member(cid, "ben")
    assert ben is not None and ben.read_seq == 0
    assert await store.conversations.get(cid) == before

    # Two entries of one batch with the same key: the same, nothing stored.
    twice = [
        make_entry(cid, 2, "ben", client_key="kb"),
        make_entry(cid, 3, "ben", client_key="kb"),
    ]
    with pytest.raises(Conflict) as caught:
        await store.messages.append(cid, twice, {}, summary_of(twice))
    assert caught.value.field == "client_key"
    assert await store.messages.last_seq(cid) == 1

    # The batch without the duplicate, renumbered, goes through.
    retry = [clash[0], clash[1], clash[3]]
    for seq, entry in enumerate(retry, start=2):
        entry.seq = seq
    await store.messages.append(cid, retry, {"ben": 4}, summary_of(retry))
    assert seqs(await store.messages.since(cid, 0, 10)) == [1, 2, 3, 4]
    assert await store.messages.get_by_client_key(cid, "ann", "k2") == retry[0]


async def test_duplicate_seq_fails_the_whole_batch(store: Store) -> None:
    group = await new_group(store, "ann", "ben")
    cid = group.id
    first = [make_entry(cid, 1, "ann", text="one"), make_entry(cid, 2, "ben", text="two")]
    await store.messages.append(cid, first, {}, summary_of(first))
    before = await store.conversations.get(cid)

    # seq 3 is new and goes in first on MongoDB; seq 2 is taken (by another writer).
    clash = [make_entry(cid, 3, "ann", text="three"), make_entry(cid, 2, "ann", text="dup")]
    with pytest.raises(Conflict) as caught:
        await store.messages.append(cid, clash, {"ann": 3}, summary_of(clash))

    assert caught.value.field == "seq"
    assert await store.messages.since(cid, 0, 10) == first  # theirs untouched, ours gone
    assert await store.messages.last_seq(cid) == 2
    assert await store.conversations.get(cid) == before
    ann = await store.conversations.get_member(cid, "ann")
    assert ann is not None and ann.read_seq == 0

    with pytest.raises(Conflict) as caught:
        await store.messages.append(cid, [make_entry(cid, 1, "ben")], {}, None)
    assert caught.value.field == "seq"
    assert await store.messages.since(cid, 0, 10) == first


async def test_read_seq_is_never_lowered(store: Store) -> None:
    group = await new_group(store, "ann", "ben")

    await store.messages.append(group.id, [], {"ann": 5, "ben": 2}, None)
    await store.messages.append(group.id, [], {"ann": 3, "ben": 4}, None)

    reads = {m.user_id: m.read_seq for m in await store.conversations.members(group.id)}
    assert reads == {"ann": 5, "ben": 4}
    await store.messages.append(group.id, [], {"ann": 7}, None)
    ann = await store.conversations.get_member(group.id, "ann")
    assert ann is not None and ann.read_seq == 7


async def test_summary_last_seq_is_never_lowered(store: Store) -> None:
    group = await new_group(store, "ann")
    await store.messages.append(
        group.id,
        [],
        {},
        ConversationSummaryUpdate(
            last_seq=9, last_activity_at=T0 + 9, last_preview="p9", last_sender_id="ann"
        ),
    )
    await store.messages.append(
        group.id, [], {}, ConversationSummaryUpdate(last_seq=4, last_activity_at=T0 + 10)
    )
    stored = await store.conversations.get(group.id)
    assert stored is not None
    assert (stored.last_seq, stored.last_activity_at) == (9, T0 + 10)
    assert (stored.last_preview, stored.last_sender_id) == ("p9", "ann")


async def test_append_refuses_entries_of_another_conversation(store: Store) -> None:
    group = await new_group(store, "ann")
    stray = make_entry(new_id(), 1, "ann")
    with pytest.raises(ValueError):
        await store.messages.append(group.id, [stray], {}, None)
    assert await store.messages.last_seq(group.id) == 0
    assert await store.messages.last_seq(stray.conversation_id) == 0


async def test_messaging_data_survives_close_and_reopen(backend: Backend) -> None:
    first = backend.new_store()
    await first.open()
    direct = make_conversation("ann", kind="direct", direct_key=pair_key("ann", "ben"))
    members = [make_member(direct.id, "ann"), make_member(direct.id, "ben")]
    await first.conversations.create(direct, members)
    batch = [
        make_entry(direct.id, 1, "ann", text="persist me", client_key="k"),
        make_entry(direct.id, 2, "ann", kind="edit", text="persisted", target_seq=1),
    ]
    await first.messages.append(direct.id, batch, {"ben": 2}, summary_of(batch))
    await first.blocks.block("ben", "ann", T0)
    stored = await first.conversations.get(direct.id)
    log = await first.messages.since(direct.id, 0, 10)
    await first.close()

    second = backend.new_store()
    await second.open()
    try:
        assert await second.conversations.get(direct.id) == stored
        assert [m.read_seq for m in await second.conversations.members(direct.id)] == [0, 2]
        assert await second.messages.since(direct.id, 0, 10) == log
        assert await second.messages.last_seq(direct.id) == 2
        assert await second.blocks.is_blocked("ben", "ann") is True
        again, created = await second.conversations.get_or_create_direct(
            make_conversation("ben", kind="direct", direct_key=direct.direct_key), []
        )
        assert (again, created) == (stored, False)
        with pytest.raises(Conflict):
            await second.messages.append(
                direct.id, [make_entry(direct.id, 3, "ann", client_key="k")], {}, None
            )
    finally:
        await second.close()
