"""Social: follows, posts, the home feed, likes, threaded comments, and live
updates of the posts a session is showing.

Lists are paged by an opaque ``cursor``: pass a reply's ``next_cursor`` back
exactly as received to get the next page (``None``: the last page). A cursor
is signed and bound to its list: one that was altered, or that belongs to
another list (another user's followers, another post's comments), is refused
with ``invalid_field``. New items never shift a page: paging down while posts
arrive neither skips nor repeats one.

Blocks (``user.block``) hide the two users from each other everywhere here:
profiles and post lookups answer ``not_found``, and their posts, comments and
follows are left out of every list.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from protocol import limits
from protocol.frames import Event, ObjectId, Request
from protocol.messages.accounts import UserProfile

ClientKey = Annotated[str, Meta(min_length=1, max_length=limits.CLIENT_KEY_MAX)]
Cursor = Annotated[str, Meta(min_length=1, max_length=limits.CURSOR_MAX)]
PageLimit = Annotated[int, Meta(ge=1, le=limits.PAGE_LIMIT_MAX)]
PostText = Annotated[str, Meta(max_length=limits.POST_TEXT_MAX)]
CommentText = Annotated[str, Meta(min_length=1, max_length=limits.COMMENT_TEXT_MAX)]
Tag = Annotated[str, Meta(min_length=1, max_length=limits.TAG_MAX, pattern=limits.TAG_PATTERN)]
Tags = Annotated[list[Tag], Meta(max_length=limits.POST_TAGS_MAX)]
Visibility = Literal["public", "followers"]
PostIds = Annotated[list[ObjectId], Meta(min_length=1, max_length=limits.WATCH_MAX)]


# --------------------------------------------------------------------- parts


class Location(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    latitude: Annotated[float, Meta(ge=-90, le=90)]
    longitude: Annotated[float, Meta(ge=-180, le=180)]
    place_name: Annotated[str, Meta(max_length=limits.PLACE_NAME_MAX)] = ""


# --------------------------------------------------------------------- views


class PostView(msgspec.Struct, kw_only=True):
    """A post as a viewer sees it. ``media_urls``, ``media_types`` and
    ``media_blurhashes`` are parallel lists; ``media_blurhashes`` holds each
    image's BlurHash, to draw a placeholder while the image loads (``""``
    where there is none: a video), and may be shorter than ``media_urls``
    (empty for posts written before it existed: show no placeholder);
    ``tags`` are lower-case without ``#``; ``mentions`` are the user ids of
    the ``@usernames`` of the text that exist."""

    id: str
    author: UserProfile
    text: str
    media_urls: list[str]
    media_types: list[str]
    # A default, like ``hidden``: a client decoding the reply of a server
    # without the field still decodes it. An additive change, so no new
    # protocol version (docs/decisions.md): older clients ignore the field.
    media_blurhashes: list[str] = []
    tags: list[str]
    mentions: list[str]
    location: Location | None
    visibility: Visibility
    like_count: int
    comment_count: int
    created_at: float
    edited_at: float | None
    liked_by_me: bool
    hidden: bool = False
    """Hidden by moderation pending review: only its author and admins see
    it, and only by ``post.get`` (every list leaves it out)."""


class CommentView(msgspec.Struct, kw_only=True):
    """A comment. A deleted comment that has replies stays listed as a
    tombstone: ``deleted`` true, ``text`` empty."""

    id: str
    post_id: str
    author: UserProfile
    parent_comment_id: str | None
    text: str
    created_at: float
    edited_at: float | None
    deleted: bool
    reply_count: int
    like_count: int
    liked_by_me: bool


class PostPage(msgspec.Struct, kw_only=True):
    """At most ``limit`` posts, fewer when more would pass ``MAX_REPLY_BYTES``
    or when some were filtered out (deleted meanwhile, hidden by a block or
    by visibility): a short page is not the end, ``next_cursor`` is."""

    posts: list[PostView]
    next_cursor: str | None


class CommentPage(msgspec.Struct, kw_only=True):
    comments: list[CommentView]
    next_cursor: str | None


class UserPage(msgspec.Struct, kw_only=True):
    users: list[UserProfile]
    next_cursor: str | None


class FollowResult(msgspec.Struct, kw_only=True):
    changed: bool
    """``False`` when it was already so (a repeated follow or unfollow)."""
    user: UserProfile
    """The other user, counts and flags as they are now."""


class LikeResult(msgspec.Struct, kw_only=True):
    changed: bool
    """``False`` when it was already so (a repeated like or unlike)."""
    like_count: int


class Watching(msgspec.Struct, kw_only=True):
    post_ids: list[str]
    """Every post the session watches now."""


# ----------------------------------------------------------------- requests


class Follow(Request, tag="follow.create", kw_only=True):
    """Follow ``user_id``. Refused with ``invalid_field`` for oneself,
    ``not_found`` for an unknown (or blocking/blocked) user, ``forbidden``
    past ``FOLLOWING_MAX`` accounts."""

    user_id: ObjectId

    reply = FollowResult


class Unfollow(Request, tag="follow.delete", kw_only=True):
    user_id: ObjectId

    reply = FollowResult


class Followers(Request, tag="follow.list_followers", kw_only=True):
    """Who follows ``user_id``, most recent follow first."""

    user_id: ObjectId
    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = UserPage


class Following(Request, tag="follow.list_following", kw_only=True):
    """Whom ``user_id`` follows, most recent follow first."""

    user_id: ObjectId
    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = UserPage


class CreatePost(Request, tag="post.create", kw_only=True):
    """Publish a post. Tags are the text's ``#hashtags`` plus ``tags``,
    lower-cased, without duplicates, at most ``POST_TAGS_MAX`` in all (more
    is ``invalid_field``). A retry with the same ``client_key`` returns the
    original post and publishes nothing. The author's followers who are
    online get ``post.new``."""

    client_key: ClientKey
    text: PostText = ""
    media_ids: Annotated[list[ObjectId], Meta(max_length=limits.POST_MEDIA_MAX)] = []
    """Uploads of the caller (``POST /v1/media`` on the sidecar) not used
    elsewhere, in the order shown; another user's or a used one is
    ``forbidden``. The post's ``media_urls``, ``media_types`` and
    ``media_blurhashes`` come from them."""
    tags: Tags = []
    location: Location | None = None
    visibility: Visibility = "public"

    reply = PostView


class EditPost(Request, tag="post.edit", kw_only=True):
    """Change the text (and so the hashtags and mentions), the explicit
    ``tags`` and, when given, the location (``clear_location`` removes it).
    The author's only; the post is marked ``edited_at``."""

    post_id: ObjectId
    text: PostText
    tags: Tags = []
    location: Location | None = None
    clear_location: bool = False

    reply = PostView


class DeletePost(Request, tag="post.delete", kw_only=True):
    """The author's only; the post leaves every list, with its comments and likes."""

    post_id: ObjectId


class GetPost(Request, tag="post.get", kw_only=True):
    post_id: ObjectId

    reply = PostView


class UserPosts(Request, tag="post.by_user", kw_only=True):
    """A profile's posts, newest first (followers-only ones for its followers)."""

    user_id: ObjectId
    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = PostPage


class LikedPosts(Request, tag="post.liked", kw_only=True):
    """The posts ``user_id`` liked, most recent like first."""

    user_id: ObjectId
    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = PostPage


class HomeFeed(Request, tag="feed.home", kw_only=True):
    """The caller's posts and those of everyone they follow, newest first."""

    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = PostPage


class LikePost(Request, tag="post.like", kw_only=True):
    post_id: ObjectId

    reply = LikeResult


class UnlikePost(Request, tag="post.unlike", kw_only=True):
    post_id: ObjectId

    reply = LikeResult


class CreateComment(Request, tag="comment.create", kw_only=True):
    """Comment on a post, or reply to ``parent_comment_id`` (a comment of the
    same post that is not deleted; else ``not_found``). A retry with the same
    ``client_key`` returns the original comment."""

    post_id: ObjectId
    text: CommentText
    parent_comment_id: ObjectId | None = None
    client_key: ClientKey

    reply = CommentView


class EditComment(Request, tag="comment.edit", kw_only=True):
    """The comment's author only."""

    comment_id: ObjectId
    text: CommentText

    reply = CommentView


class DeleteComment(Request, tag="comment.delete", kw_only=True):
    """By the comment's author or the post's author. One with replies stays as
    a tombstone."""

    comment_id: ObjectId


class ListComments(Request, tag="comment.list", kw_only=True):
    """The post's top-level comments, or with ``parent_comment_id`` the
    direct replies of that comment; oldest first."""

    post_id: ObjectId
    parent_comment_id: ObjectId | None = None
    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = CommentPage


class LikeComment(Request, tag="comment.like", kw_only=True):
    comment_id: ObjectId

    reply = LikeResult


class UnlikeComment(Request, tag="comment.unlike", kw_only=True):
    comment_id: ObjectId

    reply = LikeResult


class WatchPosts(Request, tag="post.watch", kw_only=True):
    """Get live updates of these posts while they are on screen:
    ``comment.new``, ``comment.updated``, ``comment.deleted``, ``post.counts``
    (at most one per post per second), ``post.updated`` and ``post.deleted``.
    At most ``WATCH_MAX`` posts at once per session (more is ``forbidden``,
    and nothing is added); watching ends with the session, or with
    ``post.unwatch``. Watching a post one may not see is ``not_found``."""

    post_ids: PostIds

    reply = Watching


class UnwatchPosts(Request, tag="post.unwatch", kw_only=True):
    post_ids: PostIds

    reply = Watching


# ------------------------------------------------------------------- events


class PostNew(Event, tag="post.new", kw_only=True):
    """A post by someone the user follows (sent to their online sessions)."""

    post: PostView


class PostUpdated(Event, tag="post.updated", kw_only=True):
    post: PostView
    """``liked_by_me`` is always false here: the view is the same for every watcher."""


class PostDeleted(Event, tag="post.deleted", kw_only=True):
    post_id: str


class PostCounts(Event, tag="post.counts", kw_only=True):
    """The counts of a watched post changed (coalesced: the latest values, at
    most once per second per post)."""

    post_id: str
    like_count: int
    comment_count: int


class CommentNew(Event, tag="comment.new", kw_only=True):
    comment: CommentView


class CommentUpdated(Event, tag="comment.updated", kw_only=True):
    comment: CommentView


class CommentDeleted(Event, tag="comment.deleted", kw_only=True):
    post_id: str
    comment_id: str
    tombstone: bool
    """It stays listed, text cleared, because it has replies."""


REQUESTS: tuple[type[Request], ...] = (
    Follow,
    Unfollow,
    Followers,
    Following,
    CreatePost,
    EditPost,
    DeletePost,
    GetPost,
    UserPosts,
    LikedPosts,
    HomeFeed,
    LikePost,
    UnlikePost,
    CreateComment,
    EditComment,
    DeleteComment,
    ListComments,
    LikeComment,
    UnlikeComment,
    WatchPosts,
    UnwatchPosts,
)
EVENTS: tuple[type[Event], ...] = (
    PostNew,
    PostUpdated,
    PostDeleted,
    PostCounts,
    CommentNew,
    CommentUpdated,
    CommentDeleted,
)
