"""``search.query`` through its handler on both storage backends (the
``social`` fixture of ``test_social.py``): users followed first, posts by
words, tag and place with visibility and blocks, tag autocomplete, cursors,
and bad input. ``node.send`` goes through the wire decoder, so protocol
bounds answer ``invalid_field``. Text and near searches are skipped on the
MongoDB stand-in (``tests/store/backends.py``)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from protocol import limits
from protocol.errors import ErrorCode
from protocol.messages import accounts
from protocol.messages import search as m
from protocol.messages import social as s
from server.context import Caller
from server.storage import MongoStore
from tests.harness import Node
from tests.store.backends import MONGO_URL, STANDIN_NO_GEO, STANDIN_NO_TEXT
from tests.store.test_search import HOSTILE
from tests.test_social import post, refused, social

__all__ = ["social"]  # the fixture, shared

NICE = {"latitude": 43.7102, "longitude": 7.2620}
MONACO = {"latitude": 43.7384, "longitude": 7.4246, "place_name": "Monaco"}
CANNES = {"latitude": 43.5528, "longitude": 7.0174, "place_name": "Cannes"}


def skip_on_standin(node: Node, reason: str) -> None:
    if isinstance(node.store, MongoStore) and MONGO_URL is None:
        pytest.skip(reason)


async def find(node: Node, caller: Caller, **fields: Any) -> m.SearchResults:
    return await node.send(caller, m.Search, **fields)  # type: ignore[no-any-return]


def texts(results: m.SearchResults) -> list[str]:
    return [p.text for p in results.posts]


# -------------------------------------------------------------------- users


async def test_users_prefix_and_words_with_followed_people_first(social: Node) -> None:
    skip_on_standin(social, STANDIN_NO_TEXT)  # users are matched by words too
    me = await social.user("me")
    for name in ("anna", "annabel", "annie"):
        await social.user(name)
    annie = social.caller()
    await social.call(annie, accounts.Login, login="annie", password="x" * 8)
    await social.call(me, s.Follow, user_id=annie.user())
    found = await find(social, me, kind="users", query="ann")
    assert [u.username for u in found.users] == ["annie", "anna", "annabel"]
    assert found.users[0].i_follow and found.next_cursor is None
    assert [
        u.username for u in (await find(social, me, kind="users", query="ANN%", limit=1)).users
    ] == []
    assert (await find(social, me, kind="users", query="")).users == []


async def test_users_leave_out_blocks_either_way(social: Node) -> None:
    skip_on_standin(social, STANDIN_NO_TEXT)
    me, bob, carl = await social.user("me"), await social.user("bobby"), await social.user("bobcat")
    await social.call(bob, accounts.BlockUser, user_id=me.user())
    await social.call(me, accounts.BlockUser, user_id=carl.user())
    assert (await find(social, me, kind="users", query="bob")).users == []


# -------------------------------------------------------------------- posts


async def test_posts_by_words_newest_and_best_with_pages(social: Node) -> None:
    skip_on_standin(social, STANDIN_NO_TEXT)
    me = await social.user("me")
    for i in range(5):
        await post(social, me, f"sunset number {i}")
    await post(social, me, "sunset sunset sunset")
    await post(social, me, "mountains")
    newest = await find(social, me, kind="posts", query="Sunset", order="newest", limit=4)
    assert texts(newest) == ["sunset sunset sunset"] + [f"sunset number {i}" for i in (4, 3, 2)]
    rest = await find(
        social, me, kind="posts", query="Sunset", order="newest", cursor=newest.next_cursor
    )
    assert texts(rest) == ["sunset number 1", "sunset number 0"] and rest.next_cursor is None
    best = await find(social, me, kind="posts", query="sunset", limit=2)
    assert texts(best)[0] == "sunset sunset sunset"
    more = await find(social, me, kind="posts", query="sunset", limit=10, cursor=best.next_cursor)
    assert len(more.posts) == 4 and not set(texts(more)) & set(texts(best))
    assert more.next_cursor is None


@pytest.mark.parametrize("query", HOSTILE[:-2])  # the NUL and the long one: see below
async def test_query_syntax_is_text_never_an_engine_error(social: Node, query: str) -> None:
    skip_on_standin(social, STANDIN_NO_TEXT)
    me = await social.user("me")
    await post(social, me, "sunset at the beach")
    for order in ("best", "newest"):
        found = await find(social, me, kind="posts", query=query, order=order)
        assert texts(found) in ([], ["sunset at the beach"])
    await find(social, me, kind="users", query=query)
    await find(social, me, kind="tags", query=query)


async def test_queries_without_words_find_nothing_on_every_backend(social: Node) -> None:
    me = await social.user("me")
    await post(social, me, "sunset #beach")
    # ("_" is a word to query_words, so it reaches the engine: see the test above.)
    for query in ['"', "*", "-", "^", "()", "%", "\x00", " "]:
        assert await find(social, me, kind="posts", query=query) == m.SearchResults()
    assert (await find(social, me, kind="tags", query="%")).tags == []
    assert (await find(social, me, kind="tags", query="b_")).tags == []


async def test_too_long_queries_and_bad_places_are_refused(social: Node) -> None:
    me = await social.user("me")
    long = "sunset " * (10_000 // 7)
    await refused(ErrorCode.INVALID_FIELD, find(social, me, kind="posts", query=long))
    await find(social, me, kind="tags", query="x" * limits.SEARCH_TEXT_MAX)  # the bound itself
    for near in (
        {**NICE, "radius_km": 0},
        {**NICE, "radius_km": -1},
        {**NICE, "radius_km": 50_000},
        {"latitude": 91, "longitude": 0, "radius_km": 10},
        {"latitude": 0, "longitude": 181, "radius_km": 10},
        {"latitude": 0, "longitude": 0},
    ):
        await refused(ErrorCode.INVALID_FIELD, find(social, me, kind="posts", near=near))
    await refused(ErrorCode.INVALID_FIELD, find(social, me, kind="posts", query="a", tag="b"))
    await refused(ErrorCode.INVALID_FIELD, find(social, me, kind="users", query="a", tag="b"))
    await refused(ErrorCode.INVALID_FIELD, find(social, me, kind="posts", tag="not a tag"))
    await refused(ErrorCode.INVALID_FIELD, find(social, me, kind="nothing", query="a"))


async def test_posts_by_tag_with_visibility_blocks_and_tampered_cursors(social: Node) -> None:
    ada, fan, stranger, rude = [await social.user(n) for n in ("ada", "fan", "stranger", "rude")]
    await social.call(fan, s.Follow, user_id=ada.user())
    await post(social, ada, "public #Sun")
    await post(social, ada, "friends #sun", visibility="followers")
    await post(social, rude, "rude #sun")
    await social.call(ada, accounts.BlockUser, user_id=rude.user())
    for i in range(3):
        await post(social, stranger, f"more {i}", tags=["sun"])
    seen_by_fan = await find(social, fan, kind="posts", tag="#SUN", limit=3)
    assert texts(seen_by_fan) == ["more 2", "more 1", "more 0"]
    rest = await find(social, fan, kind="posts", tag="sun", cursor=seen_by_fan.next_cursor)
    assert texts(rest) == ["rude #sun", "friends #sun", "public #Sun"]
    by_stranger = await find(social, stranger, kind="posts", tag="sun")
    assert "friends #sun" not in texts(by_stranger)
    by_ada = await find(social, ada, kind="posts", tag="sun")
    assert "rude #sun" not in texts(by_ada) and "friends #sun" in texts(by_ada)
    cursor = seen_by_fan.next_cursor
    assert cursor is not None
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[3] ^= 1
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (tampered, "x", cursor[:-2]):
        await refused(
            ErrorCode.INVALID_FIELD, find(social, fan, kind="posts", tag="sun", cursor=bad)
        )
    # A cursor of another search is refused too.
    await refused(
        ErrorCode.INVALID_FIELD, find(social, fan, kind="posts", tag="moon", cursor=cursor)
    )
    await refused(
        ErrorCode.INVALID_FIELD, find(social, fan, kind="users", query="a", cursor=cursor)
    )


async def test_tag_autocomplete_counts_follow_posts(social: Node) -> None:
    me = await social.user("me")
    first = await post(social, me, "#summer #sun")
    await post(social, me, "#sun again")
    await post(social, me, "#surf", tags=["Sunny"])
    found = await find(social, me, kind="tags", query="#Su")
    assert [(t.tag, t.post_count) for t in found.tags] == [
        ("sun", 2),
        ("summer", 1),
        ("sunny", 1),
        ("surf", 1),
    ]
    await social.call(me, s.EditPost, post_id=first.id, text="#winter")
    await social.call(me, s.DeletePost, post_id=(await post(social, me, "#sunny")).id)
    found = await find(social, me, kind="tags", query="su", limit=2)
    assert [(t.tag, t.post_count) for t in found.tags] == [("sun", 1), ("sunny", 1)]
    assert (await find(social, me, kind="tags", query="")).tags == []


async def test_posts_near_a_place_nearest_first_with_distances(social: Node) -> None:
    skip_on_standin(social, STANDIN_NO_GEO)
    me, other = await social.user("me"), await social.user("other")
    await post(social, me, "cannes", location=CANNES)
    await post(social, me, "monaco", location=MONACO)
    await post(social, other, "secret monaco", location=MONACO, visibility="followers")
    await post(social, me, "nowhere")
    found = await find(social, me, kind="posts", near={**NICE, "radius_km": 30}, limit=1)
    assert texts(found) == ["monaco"] and found.distances_km[0] == pytest.approx(13.4, abs=0.5)
    rest = await find(
        social, me, kind="posts", near={**NICE, "radius_km": 30}, cursor=found.next_cursor
    )
    assert texts(rest) == ["cannes"] and len(rest.distances_km) == 1
    assert rest.distances_km[0] == pytest.approx(26, abs=1)
    small = await find(social, me, kind="posts", near={**NICE, "radius_km": 1})
    assert small == m.SearchResults()
