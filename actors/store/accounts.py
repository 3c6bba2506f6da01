"""Storage ports of the accounts domain: users, login sessions, blocks."""

from __future__ import annotations

from typing import Protocol

import msgspec


class UserRecord(msgspec.Struct, kw_only=True):
    """An account. ``username`` is stored lower-case, which makes it unique
    case-insensitively; ``email`` likewise."""

    id: str
    username: str
    email: str
    password_hash: str
    display_name: str = ""
    bio: str = ""
    avatar_url: str = ""
    created_at: float
    followers_count: int = 0
    following_count: int = 0
    posts_count: int = 0
    """Kept by the social stores (:mod:`actors.store.social`) in the same
    write as the rows they count; never set by :meth:`UserStore.create`."""
    role: str = "user"
    """``"user"`` or ``"admin"``; set only by ``grover admin``
    (:meth:`~actors.store.moderation.ModerationStore.set_role`)."""
    suspended: bool = False
    """Set by a moderator (:mod:`actors.store.moderation`): no login, no
    sessions, profile and content hidden from everyone."""


class ProfileUpdate(msgspec.Struct, kw_only=True):
    """Fields of a profile update; ``None`` leaves a field unchanged."""

    display_name: str | None = None
    bio: str | None = None
    avatar_url: str | None = None

    def changes(self) -> dict[str, str]:
        """The fields to set, by name: the non-``None`` ones."""
        fields = {"display_name": self.display_name, "bio": self.bio, "avatar_url": self.avatar_url}
        return {name: value for name, value in fields.items() if value is not None}


class AuthSessionRecord(msgspec.Struct, kw_only=True):
    """A login. Only the SHA-256 of the bearer token is stored."""

    token_hash: str
    user_id: str
    created_at: float
    expires_at: float


class UserStore(Protocol):
    async def create(self, user: UserRecord) -> None:
        """Insert; raises ``Conflict("username")`` or ``Conflict("email")``."""

    async def get(self, user_id: str) -> UserRecord | None: ...

    async def get_many(self, user_ids: list[str]) -> dict[str, UserRecord]:
        """The users that exist among ``user_ids``, by id (one query)."""

    async def get_many_by_username(self, usernames: list[str]) -> dict[str, UserRecord]:
        """The users with these (lower-case) usernames, by username (one query):
        resolving ``@mentions``."""

    async def get_by_username(self, username: str) -> UserRecord | None:
        """Look up by username (already lower-cased by the caller)."""

    async def get_by_email(self, email: str) -> UserRecord | None:
        """Look up by email (already lower-cased by the caller)."""

    async def update_profile(self, user_id: str, update: ProfileUpdate) -> UserRecord | None:
        """Apply the non-``None`` fields; return the new record, ``None`` if absent."""

    async def search_prefix(self, prefix: str, limit: int) -> list[UserRecord]:
        """Users whose username or display name starts with ``prefix``
        (case-insensitive), ordered by username."""

    async def search_text(self, query: str, limit: int) -> list[UserRecord]:
        """Full-text search over username and display name, best match first."""


class AuthSessionStore(Protocol):
    async def create(self, session: AuthSessionRecord) -> None: ...

    async def get(self, token_hash: str) -> AuthSessionRecord | None:
        """The session, expired or not (the caller decides what expiry means)."""

    async def delete(self, token_hash: str) -> bool:
        """Remove one session; ``True`` if it existed."""

    async def delete_for_user(self, user_id: str) -> int:
        """Remove every session of a user; return how many there were."""

    async def delete_expired(self, now: float) -> int: ...


class BlockStore(Protocol):
    async def block(self, user_id: str, blocked_id: str, at: float) -> None:
        """``user_id`` blocks ``blocked_id``; blocking twice is a no-op."""

    async def unblock(self, user_id: str, blocked_id: str) -> None: ...

    async def is_blocked(self, user_id: str, blocked_id: str) -> bool:
        """Whether ``user_id`` has blocked ``blocked_id``."""

    async def blocked_among(self, user_id: str, others: list[str]) -> set[str]:
        """The ids of ``others`` with a block between them and ``user_id``,
        either way (one query): whom ``user_id`` must not see nor be seen by."""
