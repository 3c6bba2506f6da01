"""The social domain's rules and the PostActor's interface: how tags and
mentions come out of a post's text, who may see a post, the views made from
records, and the messages a post's actor takes. Pure: no I/O, no state.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

from actors.ids import ActorKey
from actors.message import Ask, Message
from actors.sessions import SessionRef
from actors.store.accounts import UserRecord
from actors.store.social import CommentRecord, GeoPoint, PostRecord
from protocol import limits
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import accounts
from protocol.messages import social as m

KIND = "post"

#: ``#tag``: a run of word characters after a ``#`` that does not follow one
#: (``a#b`` and ``##`` are not tags).
_HASHTAG_RE: Final = re.compile(r"(?<![\w#])#(\w+)")
#: ``@username`` by the protocol's username alphabet, not inside an email.
_MENTION_RE: Final = re.compile(r"(?<![\w.@])@([A-Za-z0-9_.]+)")


def post_key(post_id: str) -> ActorKey:
    return ActorKey(KIND, post_id)


def normalise_tags(text: str, explicit: list[str]) -> list[str]:
    """The post's tags: the text's ``#hashtags``, then the explicit ones,
    lower-cased, without ``#`` or duplicates, in first appearance order.
    ``invalid_field`` when they are more than ``POST_TAGS_MAX`` or one is
    longer than ``TAG_MAX``."""
    tags: dict[str, None] = {}
    for raw in [*_HASHTAG_RE.findall(text), *explicit]:
        tag = raw.removeprefix("#").lower()
        if len(tag) > limits.TAG_MAX:
            raise ProtocolError(ErrorCode.INVALID_FIELD, f"a tag is longer than {limits.TAG_MAX}")
        tags[tag] = None
    if len(tags) > limits.POST_TAGS_MAX:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD, f"a post has at most {limits.POST_TAGS_MAX} tags"
        )
    return list(tags)


def mentioned_usernames(text: str) -> list[str]:
    """The distinct ``@usernames`` of the text, lower-cased, in order, at most
    ``POST_MENTIONS_MAX`` (a trailing ``.`` ends the sentence, not the name)."""
    names: dict[str, None] = {}
    for raw in _MENTION_RE.findall(text):
        name = raw.rstrip(".").lower()
        if limits.USERNAME_MIN <= len(name) <= limits.USERNAME_MAX:
            names[name] = None
            if len(names) == limits.POST_MENTIONS_MAX:
                break
    return list(names)


def may_see(post: PostRecord, viewer: str, follows_author: bool) -> bool:
    """Visibility alone (blocks are the caller's other check): a public post
    is for everyone, a followers-only one for its author and followers."""
    return post.visibility == "public" or viewer == post.user_id or follows_author


def location_view(point: GeoPoint | None) -> m.Location | None:
    if point is None:
        return None
    return m.Location(
        latitude=point.latitude, longitude=point.longitude, place_name=point.place_name
    )


def geo_point(location: m.Location | None) -> GeoPoint | None:
    if location is None:
        return None
    return GeoPoint(
        latitude=location.latitude,
        longitude=location.longitude,
        place_name=location.place_name,
    )


def author_view(user: UserRecord) -> accounts.UserProfile:
    return msgspec.convert(user, accounts.UserProfile, from_attributes=True)


def post_view(post: PostRecord, author: accounts.UserProfile, liked: bool) -> m.PostView:
    return m.PostView(
        id=post.id,
        author=author,
        text=post.text,
        media_urls=list(post.media_urls),
        media_types=list(post.media_types),
        media_blurhashes=list(post.media_blurhashes),
        tags=list(post.tags),
        mentions=list(post.mentions),
        location=location_view(post.location),
        visibility="followers" if post.visibility == "followers" else "public",
        like_count=post.like_count,
        comment_count=post.comment_count,
        created_at=post.created_at,
        edited_at=post.edited_at,
        liked_by_me=liked,
        hidden=post.hidden,
    )


def comment_view(
    comment: CommentRecord, author: accounts.UserProfile, liked: bool
) -> m.CommentView:
    return m.CommentView(
        id=comment.id,
        post_id=comment.post_id,
        author=author,
        parent_comment_id=comment.parent_comment_id,
        text=comment.text,
        created_at=comment.created_at,
        edited_at=comment.edited_at,
        deleted=comment.deleted,
        reply_count=comment.reply_count,
        like_count=comment.like_count,
        liked_by_me=liked,
    )


# ---------------------------------------------------------------- messages


class Watch(Ask[None], frozen=True):
    """Push this post's live events to ``session`` (of ``user_id``) until
    :class:`Unwatch` or the post is deleted."""

    session: SessionRef
    user_id: str


class Unwatch(Message, frozen=True):
    session: SessionRef


class Broadcast(Message, frozen=True):
    """An encoded event for every watcher but ``origin`` and those with a
    block between them and ``author_id`` (the user who caused it)."""

    body: bytes
    author_id: str
    origin: SessionRef | None = None


class CountsChanged(Message, frozen=True):
    """The post's likes or comments changed: watchers get ``post.counts``
    with the stored counts, at most once per :data:`COUNTS_INTERVAL`."""


class FlushCounts(Message, frozen=True):
    """The actor's own timer: the interval has passed, send what is pending."""


class Gone(Message, frozen=True):
    """The post was deleted: ``body`` (``post.deleted``) to every watcher, who
    then stop watching."""

    body: bytes


MESSAGES: tuple[type[Message], ...] = (
    Watch,
    Unwatch,
    Broadcast,
    CountsChanged,
    FlushCounts,
    Gone,
)
"""Every message a PostActor takes (the cluster's wire registry is built from it)."""

COUNTS_INTERVAL: Final = 1.0
"""Seconds between two ``post.counts`` events of one post."""
