"""Storage ports of the messaging domain: conversations, members, the log."""

from __future__ import annotations

from typing import Protocol

import msgspec


class ConversationRecord(msgspec.Struct, kw_only=True):
    """A direct or group conversation.

    ``direct_key`` is ``"<smaller user id>:<larger user id>"`` for direct
    conversations (unique: one conversation per pair) and ``None`` for groups.
    ``last_seq``, ``last_activity_at``, ``last_preview`` and ``last_sender_id``
    summarize the message log for conversation lists; the log itself is the
    truth (see :meth:`MessageStore.last_seq`).
    """

    id: str
    kind: str
    """``"direct"`` or ``"group"``."""
    title: str = ""
    created_by: str
    created_at: float
    direct_key: str | None = None
    last_seq: int = 0
    last_activity_at: float
    last_preview: str = ""
    last_sender_id: str | None = None


class MemberRecord(msgspec.Struct, kw_only=True):
    conversation_id: str
    user_id: str
    role: str = "member"
    """``"admin"`` or ``"member"``."""
    joined_at: float
    read_seq: int = 0
    """The member has read every message with ``seq <= read_seq``."""


class MessageRecord(msgspec.Struct, kw_only=True):
    """One entry of a conversation's log; ``seq`` is gap-free per conversation.

    ``kind`` is ``"message"`` for a message, ``"edit"`` or ``"delete"`` for a
    change to the message at ``target_seq``. Appending an edit or delete also
    updates the target row (``text``/``edited_at``, or ``deleted`` with the
    text and media cleared), so history shows messages as they are now.
    """

    conversation_id: str
    seq: int
    id: str
    kind: str = "message"
    sender_id: str
    client_key: str | None = None
    text: str = ""
    media_url: str = ""
    created_at: float
    edited_at: float | None = None
    deleted: bool = False
    target_seq: int | None = None


class ConversationSummaryUpdate(msgspec.Struct, kw_only=True):
    """What :meth:`MessageStore.append` writes onto the conversation record."""

    last_seq: int
    last_activity_at: float
    last_preview: str | None = None
    """``None`` leaves the preview (and sender) as they are (e.g. for an edit
    of an older message)."""
    last_sender_id: str | None = None


class ConversationStore(Protocol):
    async def create(self, conversation: ConversationRecord, members: list[MemberRecord]) -> None:
        """Insert a conversation with its members; ``Conflict("direct_key")``
        if a direct conversation for that pair exists."""

    async def get_or_create_direct(
        self, conversation: ConversationRecord, members: list[MemberRecord]
    ) -> tuple[ConversationRecord, bool]:
        """The direct conversation with ``conversation.direct_key``, creating it
        (with ``members``) if there is none. Exactly one exists per pair even
        when two callers race. Returns ``(record, created)``. When it existed,
        ``members`` are ignored unless it has no members at all (a creation
        interrupted midway on MongoDB): then they are added, re-pointed at the
        stored id."""

    async def get(self, conversation_id: str) -> ConversationRecord | None: ...

    async def members(self, conversation_id: str) -> list[MemberRecord]:
        """Current members, ordered by ``joined_at`` then user id."""

    async def get_member(self, conversation_id: str, user_id: str) -> MemberRecord | None: ...

    async def add_members(self, members: list[MemberRecord]) -> None:
        """Insert members; those already present are left as they are."""

    async def remove_member(
        self, conversation_id: str, user_id: str, *, promote: str | None = None
    ) -> bool:
        """Remove ``user_id``; ``True`` if they were a member. With ``promote``,
        that member becomes an admin in the same write (a group never stays
        without an admin because of a crash between two writes). On MongoDB
        the promotion goes first, so a crash midway leaves one admin too many,
        never none, and a retry completes it. A ``promote`` who is not a member
        is ignored; ``ValueError`` if ``promote`` is ``user_id``."""

    async def list_for_user(
        self, user_id: str, *, before: tuple[float, str] | None, limit: int
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """The user's conversations, most recent activity first (ties by id,
        descending); ``before`` is the ``(last_activity_at, id)`` of the last
        item of the previous page, and the page starts strictly after it."""

    async def changed_since(
        self, user_id: str, *, after: tuple[float, str] | None, limit: int
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """The user's conversations ordered by ``(last_activity_at, id)``,
        oldest change first, starting strictly after the ``after`` cursor (the
        ``(last_activity_at, id)`` of the last item of the previous page; all
        when ``None``). Any number of conversations with the same
        ``last_activity_at`` can be paged past."""


class MessageStore(Protocol):
    async def append(
        self,
        conversation_id: str,
        entries: list[MessageRecord],
        reads: dict[str, int],
        summary: ConversationSummaryUpdate | None,
    ) -> None:
        """Persist one batch, durably, before returning: insert ``entries``
        (unique on ``(conversation_id, seq)`` and, where ``client_key`` is set,
        on ``(conversation_id, sender_id, client_key)`` — ``Conflict("seq")`` /
        ``Conflict("client_key")``, and then nothing of the batch is kept),
        apply edits and deletes to their targets in batch order (targets are
        entries of kind ``message``; an edit leaves a deleted message deleted;
        a missing target is ignored), raise members' ``read_seq`` to the values
        in ``reads`` (never lower it; non-members are ignored), and write
        ``summary`` onto the conversation (``last_seq`` never lowered). On
        SQLite all of it is one transaction. On MongoDB, without transactions,
        entries go first (removed again if their insert fails): a crash midway
        leaves the entries stored but possibly a stale summary, which
        :meth:`last_seq` makes harmless, and possibly reads not raised and
        edits/deletes not applied to their target rows."""

    async def last_seq(self, conversation_id: str) -> int:
        """The highest ``seq`` in the log (0 when empty)."""

    async def get(self, conversation_id: str, seq: int) -> MessageRecord | None: ...

    async def get_by_client_key(
        self, conversation_id: str, sender_id: str, client_key: str
    ) -> MessageRecord | None: ...

    async def history(
        self, conversation_id: str, *, before_seq: int | None, limit: int
    ) -> list[MessageRecord]:
        """Entries of kind ``message`` with ``seq < before_seq`` (all when
        ``None``), newest first."""

    async def since(self, conversation_id: str, after_seq: int, limit: int) -> list[MessageRecord]:
        """Log entries of every kind with ``seq > after_seq``, oldest first."""

    async def unread_counts(self, user_id: str, read_seqs: dict[str, int]) -> dict[str, int]:
        """For each conversation id in ``read_seqs``: its messages (kind
        ``message``, not deleted) after that ``read_seq`` sent by someone other
        than ``user_id``. One query for the whole page (a conversation list
        asks for up to 100 at once); every id of ``read_seqs`` is in the
        result, 0 when nothing is unread."""
