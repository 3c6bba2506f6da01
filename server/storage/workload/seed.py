"""Seeding an empty store for the query-plan checker, through the ports."""

from __future__ import annotations

import asyncio
import time

from actors.ids import new_id
from actors.store import Store
from actors.store.accounts import AuthSessionRecord, UserRecord
from actors.store.live import ChatLineRecord
from actors.store.market import PaymentEventRecord
from actors.store.messaging import MemberRecord
from actors.store.moderation import ReportRecord, Target
from actors.store.social import CommentRecord
from server.storage.workload.base import (
    fund,
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


async def _seed_unit(store: Store, a: UserRecord, b: UserRecord, now: float) -> None:
    """About one row in each table, for the pair ``a`` → ``b``."""
    await store.auth_sessions.create(
        AuthSessionRecord(token_hash=new_id(), user_id=a.id, created_at=now, expires_at=now + 1e5)
    )
    await store.follows.follow(a.id, b.id, now)
    await store.blocks.block(b.id, a.id, now)
    await store.notifications.set_muted(a.id, ["like_post"])
    conversation = make_conversation(a.id, now)
    members = [
        MemberRecord(conversation_id=conversation.id, user_id=u, joined_at=now)
        for u in (a.id, b.id)
    ]
    await store.conversations.create(conversation, members)
    entries = make_messages(conversation.id, a.id, 1, 3, now)
    await store.messages.append(conversation.id, entries, {a.id: 3}, summary_of(entries))
    post = make_post(a.id, now)
    await store.posts.create(post)
    comment = CommentRecord(id=new_id(), post_id=post.id, user_id=b.id, text="hi", created_at=now)
    await store.comments.create(comment)
    await store.likes.like(b.id, "post", post.id, now)
    await store.notifications.add(make_notification(a.id, b.id, post.id, now), window=3600)
    await store.media.create(make_media(a.id, now))
    stream = make_stream(a.id, now, status="ended")
    await store.streams.create(stream)
    line = ChatLineRecord(id=new_id(), stream_id=stream.id, user_id=b.id, text="hi", created_at=now)
    await store.stream_chat.append([line])
    product = await store.products.create(make_product(a.id, now))
    await store.orders.create(make_order(b.id, product, now))
    await store.ledger.post(fund(a.id, 500, now))
    await store.payouts.create(
        make_payout(a.id, now), take_all=False, minimum=1, ledger_id=new_id()
    )
    await store.payment_events.record(
        PaymentEventRecord(id=f"WH-{new_id()}", event_type="X", body=b"{}", received_at=now)
    )
    report = ReportRecord(
        id=new_id(), reporter_id=b.id, target=Target(kind="post", id=post.id), reason="spam",
        created_at=now,
    )  # fmt: skip
    await store.reports.create(report, hide_at=1000)
    await store.trends.bump(["indexes", f"t{new_id()[-4:]}"], now, 1.0, posts=1)


async def seed(store: Store, rows: int, *, chunk: int = 256) -> None:
    """Give an empty, open store about ``rows`` rows in most tables (users:
    ``rows``), ``chunk`` pairs at a time so that the group commit batches them."""
    now = time.time() - 86_400
    users = [make_user(str(i), now - i) for i in range(max(rows, 2))]
    for start in range(0, len(users), chunk):
        await asyncio.gather(*(store.users.create(u) for u in users[start : start + chunk]))
    pairs = [(users[i], users[(i + 1) % len(users)]) for i in range(len(users))]
    for start in range(0, len(pairs), chunk):
        await asyncio.gather(
            *(
                _seed_unit(store, a, b, now - i)
                for i, (a, b) in enumerate(pairs[start : start + chunk])
            )
        )
