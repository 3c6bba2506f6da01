"""Storage ports of the social domain: follows, posts, comments, likes, and the
counters they keep on users, posts and comments.

Lists are paged by *keyset*: a :data:`PageKey` is the ``(created_at, id)`` of
the last item of the previous page, and the next page starts strictly after
it in the list's order. New rows never shift a keyset page (unlike an
offset), so a client paging down while posts arrive neither skips nor sees
twice. The handlers wrap page keys in signed, list-bound cursors
(:mod:`server.cursors`); the store only sees the key.

Counters (``followers_count``, ``following_count`` and ``posts_count`` on the
user; ``like_count`` and ``comment_count`` on the post; ``reply_count`` and
``like_count`` on the comment) change only when a row really changes: a
repeated follow, like or delete changes nothing and says so. On SQLite the
row and its counters are one transaction. On MongoDB, without transactions,
the row is written first and the counter after it, only by the caller whose
write changed the row, so the counters are exact under any concurrency and
retry; a *crash* between the two steps can leave a counter off by one, which
:class:`CountStore` (``grover``'s recount) finds and repairs.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from actors.store.accounts import UserRecord

PageKey = tuple[float, str]
"""``(created_at, id)`` of the last item of the previous page. For follow lists
the id is the other user's id, for liked posts the post id."""


class GeoPoint(msgspec.Struct, kw_only=True):
    """A post's location. The protocol bounds the values (latitude -90..90,
    longitude -180..180); MongoDB stores it as a GeoJSON point for its
    ``2dsphere`` index, SQLite as two columns."""

    latitude: float
    longitude: float
    place_name: str = ""


class PostRecord(msgspec.Struct, kw_only=True):
    """A post. ``tags`` are normalised (lower-case, no ``#``, unique, in first
    appearance order); ``mentions`` are user ids. ``media_urls``,
    ``media_types`` and ``media_blurhashes`` are parallel lists."""

    id: str
    user_id: str
    text: str = ""
    media_urls: list[str] = []
    media_types: list[str] = []
    media_blurhashes: list[str] = []
    """Each medium's BlurHash, ``""`` for one without (a video). Empty for a
    post stored before the field existed, whatever its media."""
    tags: list[str] = []
    mentions: list[str] = []
    location: GeoPoint | None = None
    visibility: str = "public"
    """``"public"`` or ``"followers"``."""
    client_key: str | None = None
    like_count: int = 0
    comment_count: int = 0
    created_at: float
    edited_at: float | None = None
    hidden: bool = False
    """Hidden pending review or by an admin (:mod:`actors.store.moderation`):
    left out of every list; only its author and admins may get it by id."""


class PostEdit(msgspec.Struct, kw_only=True):
    """The new text, tags and mentions (derived together from the text) and,
    when ``set_location``, the new location (``None`` removes it)."""

    text: str
    tags: list[str]
    mentions: list[str]
    set_location: bool = False
    location: GeoPoint | None = None
    edited_at: float


class CommentRecord(msgspec.Struct, kw_only=True):
    """A comment on a post; ``parent_comment_id`` is the comment it replies to
    (any depth, always on the same post). A deleted comment that has replies
    stays as a tombstone: ``deleted`` true, ``text`` empty."""

    id: str
    post_id: str
    user_id: str
    parent_comment_id: str | None = None
    text: str = ""
    client_key: str | None = None
    created_at: float
    edited_at: float | None = None
    deleted: bool = False
    reply_count: int = 0
    """Direct replies listed under it (tombstones included)."""
    like_count: int = 0
    hidden: bool = False
    """Hidden pending review or by an admin: shown to nobody, its author
    included (its replies keep their place under it)."""


class FollowRecord(msgspec.Struct, kw_only=True):
    follower_id: str
    followee_id: str
    created_at: float


class LikeRecord(msgspec.Struct, kw_only=True):
    user_id: str
    target_kind: str
    """``"post"`` or ``"comment"``."""
    target_id: str
    created_at: float


class LikeResult(msgspec.Struct, kw_only=True):
    changed: bool
    """The like row was created (like) or removed (unlike) by this call."""
    like_count: int
    """The target's count after the call."""


class CommentDeletion(msgspec.Struct, kw_only=True):
    comment: CommentRecord
    """The comment as it was before the delete."""
    tombstone: bool
    """It had replies, so it stays listed with its text cleared; otherwise
    the row is gone."""
    comment_count: int
    """The post's ``comment_count`` after the delete."""


class UserCounts(msgspec.Struct, kw_only=True):
    followers_count: int
    following_count: int
    posts_count: int


class PostCounts(msgspec.Struct, kw_only=True):
    like_count: int
    comment_count: int


class CommentCounts(msgspec.Struct, kw_only=True):
    reply_count: int
    like_count: int


class ViewContext(msgspec.Struct, kw_only=True):
    """What turning a page into one viewer's views needs (see :class:`ViewStore`)."""

    users: dict[str, UserRecord]
    blocked: set[str]
    i_follow: set[str]
    follows_me: set[str]
    liked: set[str]


class ViewStore(Protocol):
    """Reads that serve a page of views at once, across aggregates."""

    async def context(
        self, viewer: str, user_ids: list[str], like_kind: str, item_ids: list[str]
    ) -> ViewContext:
        """In one read (one snapshot on SQLite): the users of ``user_ids``
        that exist; which of them have a block with ``viewer`` either way;
        which the viewer follows; which follow the viewer; and which of
        ``item_ids`` (``like_kind`` ``"post"`` or ``"comment"``) the viewer
        likes. The answers are those of :meth:`UserStore.get_many`,
        :meth:`BlockStore.blocked_among`, :meth:`FollowStore.following_among`,
        :meth:`FollowStore.followers_among` and :meth:`LikeStore.liked_among`
        (the viewer is never in the three sets of users)."""


class FollowStore(Protocol):
    async def follow(self, follower_id: str, followee_id: str, at: float) -> bool:
        """Create the edge and add one to the follower's ``following_count``
        and the followee's ``followers_count``; ``False`` (nothing changed)
        when the edge exists. Users are not checked (the caller does)."""

    async def unfollow(self, follower_id: str, followee_id: str) -> bool:
        """Remove the edge and its two counts; ``False`` when there was none."""

    async def following_among(self, follower_id: str, user_ids: list[str]) -> set[str]:
        """The ids of ``user_ids`` that ``follower_id`` follows (one query)."""

    async def followers_among(self, followee_id: str, user_ids: list[str]) -> set[str]:
        """The ids of ``user_ids`` that follow ``followee_id`` (one query)."""

    async def followers(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[FollowRecord]:
        """Edges into ``user_id``, newest first; the key's id is the follower's."""

    async def following(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[FollowRecord]:
        """Edges out of ``user_id``, newest first; the key's id is the followee's."""

    async def following_ids(self, user_id: str, limit: int) -> list[str]:
        """Everyone ``user_id`` follows (at most ``limit``, in no given order):
        the authors of a home feed."""

    async def follower_ids(self, user_id: str, *, after: str | None, limit: int) -> list[str]:
        """Followers of ``user_id`` ordered by id, strictly after ``after``: how
        a post's fan-out walks a large audience in bounded batches."""


class PostStore(Protocol):
    async def create(self, post: PostRecord) -> None:
        """Insert and add one to the author's ``posts_count``.
        ``Conflict("client_key")`` when the author already made a post with
        that ``client_key`` (then nothing changes: fetch it with
        :meth:`get_by_client_key`); ``Conflict("id")`` for a taken id."""

    async def get(self, post_id: str) -> PostRecord | None: ...

    async def get_many(self, post_ids: list[str]) -> dict[str, PostRecord]:
        """The posts that exist among ``post_ids``, by id (one query)."""

    async def get_by_client_key(self, user_id: str, client_key: str) -> PostRecord | None: ...

    async def edit(self, post_id: str, user_id: str, edit: PostEdit) -> PostRecord | None:
        """Apply ``edit`` if the post exists and ``user_id`` wrote it; the post
        as now stored, else ``None`` (nothing changed)."""

    async def delete(self, post_id: str, user_id: str) -> PostRecord | None:
        """Remove the post if ``user_id`` wrote it, with its comments and the
        likes of it and of its comments, and take one from the author's
        ``posts_count``; the post as it was, else ``None``. (The likers'
        liked lists simply lose it.)"""

    async def by_author(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[PostRecord]:
        """The author's posts, newest first (index ``(user_id, created_at)``)."""

    async def by_authors(
        self, user_ids: list[str], *, before: PageKey | None, limit: int
    ) -> list[PostRecord]:
        """Posts of any of ``user_ids`` (up to several thousand), newest first:
        a home feed read from the store. Must stay fast whether the authors
        wrote most of the store's posts or very few of them."""


class CommentStore(Protocol):
    async def create(self, comment: CommentRecord) -> int | None:
        """Insert, add one to the post's ``comment_count`` and, for a reply,
        to the parent's ``reply_count``; return the post's new
        ``comment_count``. ``None`` (nothing written) when the post does not
        exist, or the parent does not exist, is deleted or is on another
        post. ``Conflict("client_key")`` when the user already commented on
        this post with that key (fetch it with :meth:`get_by_client_key`)."""

    async def get(self, comment_id: str) -> CommentRecord | None: ...

    async def get_many(self, comment_ids: list[str]) -> dict[str, CommentRecord]:
        """(Declared before :meth:`list`, whose name would shadow the type.)"""

    async def get_by_client_key(
        self, post_id: str, user_id: str, client_key: str
    ) -> CommentRecord | None: ...

    async def edit(self, comment_id: str, text: str, at: float) -> CommentRecord | None:
        """Set the text and ``edited_at`` of a comment that is not deleted;
        the comment as stored, else ``None``."""

    async def delete(self, comment_id: str) -> CommentDeletion | None:
        """Delete a comment that is not already deleted: a tombstone when it
        has replies (the parent's ``reply_count`` unchanged), else the row and
        its likes go (the parent's ``reply_count`` minus one). The post's
        ``comment_count`` drops by one either way. ``None`` when there was
        nothing to delete."""

    async def list(
        self, post_id: str, parent_id: str | None, *, after: PageKey | None, limit: int
    ) -> list[CommentRecord]:
        """Top-level comments of the post (``parent_id`` ``None``) or the
        direct replies of one comment, oldest first, tombstones included."""


class LikeStore(Protocol):
    async def like(
        self, user_id: str, target_kind: str, target_id: str, at: float
    ) -> LikeResult | None:
        """Create the like and add one to the target's ``like_count``;
        ``changed`` false when it existed. ``None`` (nothing written) when the
        target does not exist or is a deleted comment."""

    async def unlike(self, user_id: str, target_kind: str, target_id: str) -> LikeResult | None:
        """Remove the like and take one from the count; ``None`` when the
        target does not exist."""

    async def liked_among(self, user_id: str, target_kind: str, target_ids: list[str]) -> set[str]:
        """Which of ``target_ids`` the user likes (one query): ``liked_by_me``."""

    async def liked_posts(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[LikeRecord]:
        """The user's post likes, most recent like first; the key is the
        like's ``(created_at, target_id)``."""


class CountStore(Protocol):
    """Counters recomputed from the rows: for checks and for repair after a
    crash between a MongoDB write and its counter (see the module)."""

    async def recount_user(self, user_id: str, *, fix: bool = False) -> UserCounts:
        """Count the user's follow edges and posts; with ``fix``, store them."""

    async def recount_post(self, post_id: str, *, fix: bool = False) -> PostCounts | None:
        """Count the post's likes and comments that are not deleted; ``None``
        when the post does not exist."""

    async def recount_comment(self, comment_id: str, *, fix: bool = False) -> CommentCounts | None:
        """Count the comment's listed replies and likes; ``None`` when absent."""


class KeyStore(Protocol):
    """Small named secrets shared by every node of a deployment (e.g. the key
    that signs page cursors), created once by whichever node asks first."""

    async def get_or_create(self, name: str, candidate: str) -> str:
        """The stored value of ``name``; stores ``candidate`` first when there
        is none. Every caller gets the same value, even when several race."""
