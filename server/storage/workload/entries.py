"""One entry per port method (see :mod:`server.storage.workload`), in the
order they run: creations first, so that reads find rows and writes change
them; deletions last. Arguments are as the domain would pass them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from actors.ids import new_id
from actors.store import Store
from actors.store.accounts import AuthSessionRecord, ProfileUpdate
from actors.store.live import ChatLineRecord
from actors.store.market import LedgerTransaction, PaymentEventRecord, Posting, ProductChanges
from actors.store.messaging import MemberRecord
from actors.store.moderation import ReportRecord, Target
from actors.store.social import CommentRecord, PostEdit, PostRecord
from server.storage.workload.base import (
    World,
    entry,
    fund,
    make_audit,
    make_conversation,
    make_media,
    make_messages,
    make_notification,
    make_order,
    make_payout,
    make_post,
    make_product,
    make_stream,
    make_user,
    summary_of,
)

Cursor = Callable[[World], object]


def paged(key: str, call: Callable[[Store, World, Any], Awaitable[object]], cursor: Cursor) -> None:
    """Register ``key`` as two calls: the first page (no cursor), then one
    from ``cursor(world)``; the SQL differs (the cursor adds a condition)."""

    async def both(s: Store, w: World) -> None:
        await call(s, w, None)
        await call(s, w, cursor(w))

    entry(key, both)


def _later(w: World) -> tuple[float, str]:
    return w.now + 60, "~"


def _earlier(w: World) -> tuple[float, str]:
    return w.now - 60, ""


# -- accounts


async def _users_create(s: Store, w: World) -> None:
    w.a, w.b = make_user("a", w.now), make_user("b", w.now)
    await s.users.create(w.a)
    await s.users.create(w.b)


entry("users.create", _users_create)
entry("users.get", lambda s, w: s.users.get(w.ua.id))
entry("users.get_many", lambda s, w: s.users.get_many([w.ua.id, w.ub.id]))
entry(
    "users.get_many_by_username",
    lambda s, w: s.users.get_many_by_username([w.ua.username, w.ub.username]),
)
entry("users.get_by_username", lambda s, w: s.users.get_by_username(w.ua.username))
entry("users.get_by_email", lambda s, w: s.users.get_by_email(w.ua.email))


async def _update_profile(s: Store, w: World) -> None:
    await s.users.update_profile(w.ua.id, ProfileUpdate(display_name="Query A", bio="b"))
    await s.users.update_profile(w.ua.id, ProfileUpdate())  # nothing to set: a read


entry("users.update_profile", _update_profile)
entry("users.search_prefix", lambda s, w: s.users.search_prefix("query", 20))
entry("users.search_text", lambda s, w: s.users.search_text("query", 20))


async def _sessions_create(s: Store, w: World) -> None:
    w.token = new_id() + new_id()
    record = AuthSessionRecord(
        token_hash=w.token, user_id=w.ua.id, created_at=w.now, expires_at=w.now + 3600
    )
    await s.auth_sessions.create(record)


entry("auth_sessions.create", _sessions_create)
entry("auth_sessions.get", lambda s, w: s.auth_sessions.get(w.token))
entry("auth_sessions.delete", lambda s, w: s.auth_sessions.delete(w.token))
entry("auth_sessions.delete_for_user", lambda s, w: s.auth_sessions.delete_for_user(w.ub.id))
entry("auth_sessions.delete_expired", lambda s, w: s.auth_sessions.delete_expired(w.now - 86_400))
entry("blocks.block", lambda s, w: s.blocks.block(w.ub.id, w.ua.id, w.now))
entry("blocks.is_blocked", lambda s, w: s.blocks.is_blocked(w.ub.id, w.ua.id))
entry("blocks.blocked_among", lambda s, w: s.blocks.blocked_among(w.ub.id, [w.ua.id, new_id()]))
entry("blocks.unblock", lambda s, w: s.blocks.unblock(w.ub.id, w.ua.id))

# -- messaging


async def _conversations_create(s: Store, w: World) -> None:
    conversation = make_conversation(w.ua.id, w.now)
    w.conversation = conversation.id
    members = [
        MemberRecord(
            conversation_id=conversation.id, user_id=w.ua.id, role="owner", joined_at=w.now
        )
    ]
    await s.conversations.create(conversation, members)


async def _direct(s: Store, w: World) -> None:
    low, high = sorted((w.ua.id, w.ub.id))
    conversation = make_conversation(w.ua.id, w.now, direct_key=f"{low}:{high}")
    members = [
        MemberRecord(conversation_id=conversation.id, user_id=u, joined_at=w.now)
        for u in (w.ua.id, w.ub.id)
    ]
    for _ in range(2):  # creates, then finds
        await s.conversations.get_or_create_direct(conversation, members)


def _member(w: World, user_id: str) -> MemberRecord:
    return MemberRecord(conversation_id=w.conversation, user_id=user_id, joined_at=w.now)


async def _append(s: Store, w: World) -> None:
    entries = make_messages(w.conversation, w.ua.id, 1, 5, w.now)
    await s.messages.append(w.conversation, entries, {w.ua.id: 5}, summary_of(entries))
    more = make_messages(w.conversation, w.ub.id, 6, 1, w.now)
    await s.messages.append(w.conversation, more, {}, None)
    edits = make_messages(w.conversation, w.ua.id, 7, 2, w.now)  # an edit, then a delete
    edits = [
        msgspec.structs.replace(e, kind=kind, target_seq=1, client_key=None)
        for e, kind in zip(edits, ("edit", "delete"), strict=True)
    ]
    no_message = msgspec.structs.replace(summary_of(edits), last_preview=None, last_sender_id=None)
    await s.messages.append(w.conversation, edits, {}, no_message)


async def _by_client_key(s: Store, w: World) -> None:
    message = await s.messages.get(w.conversation, 2)
    assert message is not None and message.client_key is not None
    await s.messages.get_by_client_key(w.conversation, message.sender_id, message.client_key)


entry("conversations.create", _conversations_create)
entry("conversations.get_or_create_direct", _direct)
entry("conversations.get", lambda s, w: s.conversations.get(w.conversation))
entry("conversations.add_members", lambda s, w: s.conversations.add_members([_member(w, w.ub.id)]))
entry("conversations.members", lambda s, w: s.conversations.members(w.conversation))
entry("conversations.get_member", lambda s, w: s.conversations.get_member(w.conversation, w.ub.id))
paged(
    "conversations.list_for_user",
    lambda s, w, c: s.conversations.list_for_user(w.ua.id, before=c, limit=20),
    _later,
)
paged(
    "conversations.changed_since",
    lambda s, w, c: s.conversations.changed_since(w.ua.id, after=c, limit=20),
    _earlier,
)
entry("messages.append", _append)
entry("messages.last_seq", lambda s, w: s.messages.last_seq(w.conversation))
entry("messages.get", lambda s, w: s.messages.get(w.conversation, 1))
entry("messages.get_by_client_key", _by_client_key)
paged(
    "messages.history",
    lambda s, w, c: s.messages.history(w.conversation, before_seq=c, limit=50),
    lambda w: 5,
)
entry("messages.since", lambda s, w: s.messages.since(w.conversation, 2, 100))
entry("messages.unread_counts", lambda s, w: s.messages.unread_counts(w.ub.id, {w.conversation: 1}))
entry(
    "conversations.remove_member",
    lambda s, w: s.conversations.remove_member(w.conversation, w.ua.id, promote=w.ub.id),
)

# -- social


async def _posts_create(s: Store, w: World) -> None:
    w.post = make_post(w.ua.id, w.now)
    await s.posts.create(w.post)


def _post_id(w: World) -> str:
    assert w.post is not None
    return w.post.id


async def _comments_create(s: Store, w: World) -> None:
    top = CommentRecord(
        id=new_id(),
        post_id=_post_id(w),
        user_id=w.ub.id,
        text="hi",
        client_key="c1",
        created_at=w.now,
    )
    await s.comments.create(top)
    w.comment = top.id
    reply = CommentRecord(
        id=new_id(), post_id=_post_id(w), user_id=w.ua.id, parent_comment_id=top.id, text="re",
        created_at=w.now + 1,
    )  # fmt: skip
    await s.comments.create(reply)
    w.reply = reply.id


async def _like(s: Store, w: World) -> None:
    await s.likes.like(w.ub.id, "post", _post_id(w), w.now)
    await s.likes.like(w.ua.id, "comment", w.comment, w.now)


async def _recount_user(s: Store, w: World) -> None:
    await s.counts.recount_user(w.ua.id)
    await s.counts.recount_user(w.ua.id, fix=True)


async def _recount_post(s: Store, w: World) -> None:
    await s.counts.recount_post(_post_id(w), fix=True)


async def _recount_comment(s: Store, w: World) -> None:
    await s.counts.recount_comment(w.comment, fix=True)


edit = PostEdit(text="edited #plans", tags=["plans"], mentions=[], edited_at=0.0)
entry("follows.follow", lambda s, w: s.follows.follow(w.ub.id, w.ua.id, w.now))
entry("follows.following_among", lambda s, w: s.follows.following_among(w.ub.id, [w.ua.id]))
entry("follows.followers_among", lambda s, w: s.follows.followers_among(w.ua.id, [w.ub.id]))
paged("follows.followers", lambda s, w, c: s.follows.followers(w.ua.id, before=c, limit=20), _later)
paged("follows.following", lambda s, w, c: s.follows.following(w.ub.id, before=c, limit=20), _later)
entry("follows.following_ids", lambda s, w: s.follows.following_ids(w.ub.id, 500))
paged(
    "follows.follower_ids",
    lambda s, w, c: s.follows.follower_ids(w.ua.id, after=c, limit=500),
    lambda w: w.ub.id,
)
entry("posts.create", _posts_create)
entry("posts.get", lambda s, w: s.posts.get(_post_id(w)))
entry("posts.get_many", lambda s, w: s.posts.get_many([_post_id(w), new_id()]))
entry(
    "posts.get_by_client_key",
    lambda s, w: s.posts.get_by_client_key(w.ua.id, (w.post and w.post.client_key) or ""),
)
entry("posts.edit", lambda s, w: s.posts.edit(_post_id(w), w.ua.id, edit))
paged("posts.by_author", lambda s, w, c: s.posts.by_author(w.ua.id, before=c, limit=20), _later)
entry("comments.create", _comments_create)
entry("comments.get", lambda s, w: s.comments.get(w.comment))
entry("comments.get_many", lambda s, w: s.comments.get_many([w.comment, new_id()]))
entry(
    "comments.get_by_client_key",
    lambda s, w: s.comments.get_by_client_key(_post_id(w), w.ub.id, "c1"),
)
entry("comments.edit", lambda s, w: s.comments.edit(w.comment, "edited", w.now + 2))


async def _comments_list(s: Store, w: World, c: Any) -> None:
    await s.comments.list(_post_id(w), None, after=c, limit=20)
    await s.comments.list(_post_id(w), w.comment, after=c, limit=20)  # replies


paged("comments.list", _comments_list, _earlier)
entry("likes.like", _like)
entry("likes.liked_among", lambda s, w: s.likes.liked_among(w.ub.id, "post", [_post_id(w)]))
paged("likes.liked_posts", lambda s, w, c: s.likes.liked_posts(w.ub.id, before=c, limit=20), _later)
entry("counts.recount_user", _recount_user)
entry("counts.recount_post", _recount_post)
entry("counts.recount_comment", _recount_comment)
entry("keys.get_or_create", lambda s, w: s.keys.get_or_create("querycheck", new_id()))
entry(
    "views.context",
    lambda s, w: s.views.context(w.ub.id, [w.ua.id, w.ub.id], "post", [_post_id(w)]),
)

# -- discovery and search


async def _bump(s: Store, w: World) -> None:
    await s.trends.bump(["plans", "indexes", "gone"], w.now, 2.0, posts=1)
    await s.trends.bump(["gone"], w.now, -1.0, posts=-1)  # a deleted post takes back


async def _top(s: Store, w: World) -> None:
    for since in (w.now - 86_400, w.now):
        await s.trends.top(since, per_bucket=20)


entry("trends.bump", _bump)
entry("trends.top", _top)
entry("trends.prune", lambda s, w: s.trends.prune(w.now - 30 * 86_400))
entry(
    "suggestions.followed_by_followees",
    lambda s, w: s.suggestions.followed_by_followees(w.ub.id, followees=50, per_followee=10),
)
paged(
    "suggestions.popular",
    lambda s, w, c: s.suggestions.popular(before=c, limit=20),
    lambda w: (1, "~"),
)
paged(
    "post_search.text_newest",
    lambda s, w, c: s.post_search.text_newest("edited", before=c, limit=20),
    _later,
)
entry("post_search.text_best", lambda s, w: s.post_search.text_best("plans", offset=0, limit=20))
paged(
    "post_search.by_tag", lambda s, w, c: s.post_search.by_tag("plans", before=c, limit=20), _later
)
entry(
    "post_search.near",
    lambda s, w: s.post_search.near(48.85, 2.35, 10.0, offset=0, limit=20),
)
entry("post_search.tag_prefix", lambda s, w: s.post_search.tag_prefix("pla", 10))

# -- notifications


async def _notify(s: Store, w: World) -> None:
    w.actor = new_id()
    for actor in (w.ub.id, w.actor):  # opens a group, then joins it
        await s.notifications.add(
            make_notification(w.ua.id, actor, _post_id(w), w.now), window=3600
        )


entry("notifications.add", _notify)
paged(
    "notifications.page", lambda s, w, c: s.notifications.page(w.ua.id, before=c, limit=20), _later
)
entry("notifications.unread_count", lambda s, w: s.notifications.unread_count(w.ua.id))


async def _notification_remove(s: Store, w: World) -> None:
    for actor in (w.ub.id, w.actor):  # the last one out removes the notification
        await s.notifications.remove(w.ua.id, f"like_post:{_post_id(w)}", actor)


entry("notifications.remove", _notification_remove)


async def _mark_read(s: Store, w: World) -> None:
    await s.notifications.mark_read(w.ua.id, ids=[new_id()])
    await s.notifications.mark_read(w.ua.id, up_to=(w.now + 60, "~"))


entry("notifications.mark_read", _mark_read)
entry("notifications.set_muted", lambda s, w: s.notifications.set_muted(w.ua.id, ["like_post"]))
entry("notifications.muted", lambda s, w: s.notifications.muted(w.ua.id))

# -- moderation


def _target(w: World) -> Target:
    return Target(kind="post", id=_post_id(w))


async def _report(s: Store, w: World) -> None:
    for reporter in (w.ub.id, new_id(), w.ub.id):  # the third is a repeat
        report = ReportRecord(
            id=new_id(), reporter_id=reporter, target=_target(w), reason="spam", created_at=w.now
        )
        await s.reports.create(report, hide_at=2)


entry("reports.create", _report)
paged("reports.cases", lambda s, w, c: s.reports.cases(after=c, limit=20), _earlier)
entry("reports.open_reports", lambda s, w: s.reports.open_reports([_target(w).key], 5))
entry("reports.for_target", lambda s, w: s.reports.for_target(_target(w)))
entry(
    "moderation.set_hidden",
    lambda s, w: s.moderation.set_hidden(
        _target(w), False, make_audit(w.ub.id, _target(w), "restore", w.now)
    ),
)
entry(
    "moderation.dismiss",
    lambda s, w: s.moderation.dismiss(
        _target(w), make_audit(w.ub.id, _target(w), "dismiss", w.now)
    ),
)
entry(
    "moderation.set_suspended",
    lambda s, w: s.moderation.set_suspended(
        w.ub.id, True, make_audit(w.ua.id, Target(kind="user", id=w.ub.id), "suspend", w.now)
    ),
)
entry("moderation.set_role", lambda s, w: s.moderation.set_role(w.ua.username, "user"))
paged("audit.list", lambda s, w, c: s.audit.list(before=c, limit=20), _later)

# -- media


async def _media_create(s: Store, w: World) -> None:
    record = make_media(w.ua.id, w.now - 2 * 86_400)
    w.media = record.id
    await s.media.create(record)


entry("media.create", _media_create)
entry("media.get", lambda s, w: s.media.get(w.media))
entry("media.get_many", lambda s, w: s.media.get_many([w.media, new_id()]))
entry("media.unattached_before", lambda s, w: s.media.unattached_before(w.now - 86_400, 100))
entry("media.uploaded_bytes_since", lambda s, w: s.media.uploaded_bytes_since(w.ua.id, 0.0))
entry("media.attach", lambda s, w: s.media.attach([w.media], w.ua.id, f"post:{_post_id(w)}"))
entry("media.release", lambda s, w: s.media.release(f"post:{_post_id(w)}"))
entry("media.delete", lambda s, w: s.media.delete(w.media))

# -- live


async def _streams_create(s: Store, w: World) -> None:
    w.stream = make_stream(w.ua.id, w.now)
    await s.streams.create(w.stream)
    await s.streams.create(make_stream(w.ub.id, w.now, status="scheduled"))


async def _streams_save(s: Store, w: World) -> None:
    assert w.stream is not None
    await s.streams.save(msgspec.structs.replace(w.stream, viewer_count=2))


def _stream_id(w: World) -> str:
    assert w.stream is not None
    return w.stream.id


async def _chat_append(s: Store, w: World) -> None:
    line = ChatLineRecord(
        id=new_id(), stream_id=_stream_id(w), user_id=w.ub.id, text="hi", client_key="k1",
        created_at=w.now,
    )  # fmt: skip
    w.line = line.id
    await s.stream_chat.append([line])


entry("streams.create", _streams_create)
entry("streams.get", lambda s, w: s.streams.get(_stream_id(w)))
entry("streams.get_many", lambda s, w: s.streams.get_many([_stream_id(w), new_id()]))
entry("streams.save", _streams_save)
entry("streams.live_of_host", lambda s, w: s.streams.live_of_host(w.ua.id))
paged("streams.live_now", lambda s, w, c: s.streams.live_now(before=c, limit=20), _later)
entry(
    "streams.scheduled_by_hosts",
    lambda s, w: s.streams.scheduled_by_hosts([w.ua.id, w.ub.id], 20),
)
paged("streams.by_host", lambda s, w, c: s.streams.by_host(w.ua.id, before=c, limit=20), _later)
entry("streams.add_viewer", lambda s, w: s.streams.add_viewer(_stream_id(w), w.ub.id, w.now))
entry("stream_chat.append", _chat_append)
entry("stream_chat.recent", lambda s, w: s.stream_chat.recent(_stream_id(w), 50))
entry("stream_chat.get", lambda s, w: s.stream_chat.get(w.line))
paged(
    "stream_chat.page",
    lambda s, w, c: s.stream_chat.page(_stream_id(w), after=c, limit=50),
    _earlier,
)
entry("stream_chat.delete", lambda s, w: s.stream_chat.delete(w.line))
entry("stream_bans.ban", lambda s, w: s.stream_bans.ban(_stream_id(w), w.ub.id, w.now))
entry("stream_bans.is_banned", lambda s, w: s.stream_bans.is_banned(_stream_id(w), w.ub.id))

# -- market


async def _products_create(s: Store, w: World) -> None:
    w.product = await s.products.create(make_product(w.ua.id, w.now))


def _product_id(w: World) -> str:
    assert w.product is not None
    return w.product.id


async def _orders_create(s: Store, w: World) -> None:
    assert w.product is not None
    w.order, _ = await s.orders.create(make_order(w.ub.id, w.product, w.now))


async def _orders_update(s: Store, w: World) -> None:
    order = w.order
    assert order is not None
    approved = msgspec.structs.replace(order, state="approved", paypal_order_id=f"PP-{order.id}")
    await s.orders.update(approved, expected_version=order.version)
    paid = msgspec.structs.replace(
        approved, state="paid", version=order.version + 1, capture_id=f"CAP-{order.id}",
        release_at=w.now - 1, seller_pending=1000,
    )  # fmt: skip
    tx = LedgerTransaction(
        id=f"pay:{order.id}",
        kind="payment",
        postings=[
            Posting(account="paypal", currency="USD", amount=-1000),
            Posting(account=f"seller:{order.seller_id}:pending", currency="USD", amount=1000),
        ],
        at=w.now,
    )
    await s.orders.update(paid, expected_version=paid.version, ledger=tx, release_stock=1)
    w.order = msgspec.structs.replace(paid, version=paid.version + 1)


def _order(w: World) -> str:
    assert w.order is not None
    return w.order.id


async def _payouts_create(s: Store, w: World) -> None:
    await s.ledger.post(fund(w.ua.id, 10_000, w.now))
    w.payout, _ = await s.payouts.create(
        make_payout(w.ua.id, w.now), take_all=False, minimum=1, ledger_id=f"reserve:{new_id()}"
    )
    await s.payouts.create(
        make_payout(w.ua.id, w.now), take_all=True, minimum=1, ledger_id=f"reserve:{new_id()}"
    )


async def _payouts_update(s: Store, w: World) -> None:
    assert w.payout is not None
    sent = msgspec.structs.replace(w.payout, status="sent", paypal_batch_id=f"B-{w.payout.id}")
    await s.payouts.update(sent, expected_version=w.payout.version)
    w.payout = msgspec.structs.replace(sent, version=w.payout.version + 1)


def _payout_field(w: World) -> str:
    assert w.payout is not None
    return w.payout.paypal_batch_id or ""


async def _event_record(s: Store, w: World) -> None:
    w.event = f"WH-{new_id()}"
    event = PaymentEventRecord(id=w.event, event_type="X", body=b"{}", received_at=w.now)
    for _ in range(2):  # new, then a redelivery
        await s.payment_events.record(event)


changes = ProductChanges(title="Query plan poster, framed", stock=50, set_stock=True, at=0.0)
entry("products.create", _products_create)
entry("products.get", lambda s, w: s.products.get(_product_id(w)))
entry("products.edit", lambda s, w: s.products.edit(_product_id(w), changes))


async def _by_seller(s: Store, w: World, c: Any) -> None:
    for paused in (False, True):
        await s.products.by_seller(w.ua.id, include_paused=paused, before=c, limit=20)


paged("products.by_seller", _by_seller, _later)
entry("products.search", lambda s, w: s.products.search("poster", offset=0, limit=20))
entry("orders.create", _orders_create)
entry("orders.get", lambda s, w: s.orders.get(_order(w)))
entry("orders.update", _orders_update)
entry("orders.by_paypal_order", lambda s, w: s.orders.by_paypal_order(f"PP-{_order(w)}"))
entry("orders.by_capture", lambda s, w: s.orders.by_capture(f"CAP-{_order(w)}"))


async def _orders_list_by(s: Store, w: World, c: Any) -> None:
    await s.orders.list_by(w.ub.id, "buyer", before=c, limit=20)
    await s.orders.list_by(w.ua.id, "seller", before=c, limit=20)


paged("orders.list_by", _orders_list_by, _later)
entry("orders.expiring", lambda s, w: s.orders.expiring(w.now + 7200, 100))
entry("orders.releasing", lambda s, w: s.orders.releasing(w.now, 100))
entry("ledger.post", lambda s, w: s.ledger.post(fund(w.ub.id, 100, w.now)))
entry("ledger.get", lambda s, w: s.ledger.get(f"pay:{_order(w)}"))
entry("ledger.balance", lambda s, w: s.ledger.balance(f"seller:{w.ua.id}:available", "USD"))
entry("ledger.balances", lambda s, w: s.ledger.balances(f"seller:{w.ua.id}:"))
paged(
    "ledger.transactions",
    lambda s, w, c: s.ledger.transactions(after=c, limit=100),
    lambda w: "fund:",
)
entry("payouts.create", _payouts_create)
entry("payouts.get", lambda s, w: s.payouts.get(w.payout.id if w.payout else ""))
entry("payouts.update", _payouts_update)
entry("payouts.by_paypal_batch", lambda s, w: s.payouts.by_paypal_batch(_payout_field(w)))
paged("payouts.list_by", lambda s, w, c: s.payouts.list_by(w.ua.id, before=c, limit=20), _later)
entry("payouts.open", lambda s, w: s.payouts.open(100))
entry("payment_events.record", _event_record)
entry("payment_events.get", lambda s, w: s.payment_events.get(w.event))
entry("payment_events.unapplied", lambda s, w: s.payment_events.unapplied(100))
entry(
    "payment_events.mark_applied",
    lambda s, w: s.payment_events.mark_applied(w.event, "applied", w.now),
)

# -- the home feed, late: its filler posts are the newest of all


#: Posts newer than an author's only post, for the home feed's second step:
#: more than the SQLite backend's ``RECENT_WINDOW`` (4000), below which the
#: first step (a window over the newest posts of everyone) answers alone.
#: tests/test_db_check.py checks that the second step's query was planned.
FEED_FILL = 4100


async def _feed(s: Store, w: World) -> None:
    for before in (None, _later(w)):  # the first page, then one after a cursor
        await s.posts.by_authors([w.ua.id, w.ub.id], before=before, limit=20)
    quiet = make_user("quiet", w.now)
    await s.users.create(quiet)
    await s.posts.create(PostRecord(id=new_id(), user_id=quiet.id, created_at=w.now - 86_400 * 30))
    filler = [
        PostRecord(id=new_id(), user_id=w.ua.id, text="filler", created_at=w.now + 1 + i / 1e4)
        for i in range(FEED_FILL)
    ]
    for start in range(0, len(filler), 512):  # one group commit each
        await asyncio.gather(*(s.posts.create(post) for post in filler[start : start + 512]))
    await s.posts.by_authors([quiet.id], before=None, limit=20)


entry("posts.by_authors", _feed)

# -- deletions last: the rows above stay for the reads


async def _comments_delete(s: Store, w: World) -> None:
    await s.comments.delete(w.comment)  # has a reply: a tombstone
    await s.comments.delete(w.reply)  # a leaf: gone, its parent's count down


entry("likes.unlike", lambda s, w: s.likes.unlike(w.ub.id, "post", _post_id(w)))
entry("comments.delete", _comments_delete)
entry("posts.delete", lambda s, w: s.posts.delete(_post_id(w), w.ua.id))
entry("follows.unfollow", lambda s, w: s.follows.unfollow(w.ub.id, w.ua.id))

REGISTERED = True
