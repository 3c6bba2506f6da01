"""Accounts: registration, login and logout, profiles, user search and blocking."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from protocol import limits
from protocol.frames import Event, ObjectId, Request, Url

Username = Annotated[
    str,
    Meta(
        min_length=limits.USERNAME_MIN,
        max_length=limits.USERNAME_MAX,
        pattern=limits.USERNAME_PATTERN,
    ),
]
Email = Annotated[str, Meta(max_length=limits.EMAIL_MAX, pattern=limits.EMAIL_PATTERN)]
Password = Annotated[str, Meta(min_length=limits.PASSWORD_MIN, max_length=limits.PASSWORD_MAX)]
DisplayName = Annotated[str, Meta(max_length=limits.DISPLAY_NAME_MAX)]
Bio = Annotated[str, Meta(max_length=limits.BIO_MAX)]


# --------------------------------------------------------------------- views


class UserProfile(msgspec.Struct, kw_only=True):
    """What anyone may see of a user."""

    id: str
    username: str
    display_name: str
    bio: str
    avatar_url: str
    created_at: float
    followers_count: int = 0
    following_count: int = 0
    posts_count: int = 0
    i_follow: bool = False
    """The viewer follows this user (always false on one's own profile and
    on ``profile.updated``)."""
    follows_me: bool = False
    """This user follows the viewer."""


class Me(UserProfile, kw_only=True):
    """What a user sees of themself."""

    email: str


# ------------------------------------------------------------------ replies


class AuthOk(msgspec.Struct, kw_only=True):
    """A bearer token for ``hello.token`` and the account it belongs to."""

    token: str
    expires_at: float
    user: Me


class Revoked(msgspec.Struct, kw_only=True):
    sessions: int
    """How many login tokens were revoked (this one included), not how many
    sockets were closed: a token may be held by no socket or by several."""


class UserList(msgspec.Struct, kw_only=True):
    users: list[UserProfile]
    has_more: bool = False
    """The list was cut short to keep the reply within ``MAX_REPLY_BYTES``
    (search has no cursor: narrow the query)."""


# ----------------------------------------------------------------- requests


class Register(Request, tag="auth.register", kw_only=True):
    """Create an account and log this session in. The username is stored
    lower-case and is unique case-insensitively, as is the email. Sign-ups are
    rate-limited per IP (``rate_limited`` with ``retry_after``); a session
    already logged in gets ``forbidden``."""

    username: Username
    email: Email
    password: Password
    display_name: DisplayName = ""

    reply = AuthOk
    before_login = True
    changes_login = True


class Login(Request, tag="auth.login", kw_only=True):
    """Log this session in by username or email. Unknown user and wrong
    password give the same ``invalid_credentials`` error. Failures are
    rate-limited per account and per IP: while either limit holds, every
    attempt (even with the right password) gets ``rate_limited`` with
    ``retry_after`` and a message saying the account or address is
    temporarily locked, never ``invalid_credentials``. A session already
    logged in gets ``forbidden`` (log out first)."""

    login: Annotated[str, Meta(min_length=1, max_length=limits.EMAIL_MAX)]
    password: Annotated[str, Meta(min_length=1, max_length=limits.PASSWORD_MAX)]

    reply = AuthOk
    before_login = True
    changes_login = True


class Logout(Request, tag="auth.logout", kw_only=True):
    """Revoke this session's token; the connection stays open, logged out, and
    gets no more events of the account. Other live sockets are not closed,
    even one that logged in with the same token: they stay logged in until
    they reconnect (then the token is refused). Use ``auth.logout_all`` to
    end them. Likewise a token that expires does not close the sockets that
    logged in with it; it is refused at the next ``hello``."""

    changes_login = True


class LogoutAll(Request, tag="auth.logout_all", kw_only=True):
    """Revoke every token of the account; other live sessions are closed
    with 4003 and this one stays open, logged out."""

    reply = Revoked
    changes_login = True


class GetProfile(Request, tag="profile.get", kw_only=True):
    """A user's profile with their counts and how they relate to the caller;
    ``not_found`` also when either of the two blocks the other."""

    user_id: ObjectId

    reply = UserProfile


class UpdateProfile(Request, tag="profile.update", kw_only=True):
    """Change the fields given; the user's other sessions get ``profile.updated``."""

    display_name: DisplayName | None = None
    bio: Bio | None = None
    avatar_media_id: ObjectId | None = None
    """One of the caller's unused image uploads: the new avatar (its
    thumbnail's URL becomes ``avatar_url``; the previous avatar upload is
    released). Another user's, a used one or a video is ``forbidden``."""
    avatar_url: Url | None = None
    """Deprecated: a URL taken as it is (``""`` removes the avatar).
    Ignored when ``avatar_media_id`` is given."""

    reply = Me


class SearchUsers(Request, tag="user.search", kw_only=True):
    """``prefix`` matches the start of username or display name; ``text`` is
    full-text search over both. Users with a block between them and the
    caller are left out."""

    query: Annotated[str, Meta(min_length=1, max_length=limits.SEARCH_QUERY_MAX)]
    mode: Literal["prefix", "text"] = "prefix"
    limit: Annotated[int, Meta(ge=1, le=limits.SEARCH_LIMIT_MAX)] = 20

    reply = UserList


class BlockUser(Request, tag="user.block", kw_only=True):
    """Stop all direct contact with ``user_id``, both ways, until
    ``user.unblock``: in the pair's direct conversation neither side may send,
    edit or delete messages, send typing notices or mark messages read
    (``forbidden``), and the pair cannot open a new one; both may still read
    what is there. Groups the two share are unaffected. Any follow between
    the two ends, both ways, and each is hidden from the other in the social
    domain (profiles, posts, feeds, comments)."""

    user_id: ObjectId


class UnblockUser(Request, tag="user.unblock", kw_only=True):
    """Lift the caller's block of ``user_id`` (a block by the other side stays)."""

    user_id: ObjectId


# ------------------------------------------------------------------- events


class ProfileUpdated(Event, tag="profile.updated", kw_only=True):
    """The user's own profile changed (from any of their sessions)."""

    user: Me


REQUESTS: tuple[type[Request], ...] = (
    Register,
    Login,
    Logout,
    LogoutAll,
    GetProfile,
    UpdateProfile,
    SearchUsers,
    BlockUser,
    UnblockUser,
)
EVENTS: tuple[type[Event], ...] = (ProfileUpdated,)
