"""What the workload's entries share: the registry, the world of ids they
pass along, and records built as the domain would build them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from actors.ids import new_id
from actors.market import seller_account
from actors.store import Store
from actors.store.accounts import UserRecord
from actors.store.live import StreamRecord
from actors.store.market import (
    LedgerTransaction,
    OrderRecord,
    PayoutRecord,
    Posting,
    ProductRecord,
)
from actors.store.media import MediaRecord
from actors.store.messaging import (
    ConversationRecord,
    ConversationSummaryUpdate,
    MessageRecord,
)
from actors.store.moderation import AuditRecord, Target
from actors.store.notifications import NewNotification
from actors.store.social import GeoPoint, PostRecord

Entry = Callable[["Store", "World"], Awaitable[object]]
#: ``"attr.method"`` → the call, in the order :func:`run` makes them.
WORKLOAD: dict[str, Entry] = {}


class WorkloadGap(Exception):
    """A port method has no workload entry (or an entry names no method)."""


def entry(key: str, fn: Entry) -> None:
    """Register the call of port method ``key`` (``"attr.method"``)."""
    if key in WORKLOAD:
        raise WorkloadGap(f"two workload entries for {key}")
    WORKLOAD[key] = fn


@dataclass
class World:
    """What the entries share: ids made by earlier entries, used by later ones."""

    now: float = field(default_factory=time.time)
    a: UserRecord | None = None
    b: UserRecord | None = None
    conversation: str = ""
    post: PostRecord | None = None
    comment: str = ""
    reply: str = ""
    actor: str = ""
    stream: StreamRecord | None = None
    line: str = ""
    media: str = ""
    product: ProductRecord | None = None
    order: OrderRecord | None = None
    payout: PayoutRecord | None = None
    event: str = ""
    token: str = ""

    @property
    def ua(self) -> UserRecord:
        assert self.a is not None
        return self.a

    @property
    def ub(self) -> UserRecord:
        assert self.b is not None
        return self.b


# ------------------------------------------------------------------ records


def make_user(tag: str, now: float) -> UserRecord:
    name = f"qc_{tag}_{new_id()[-8:]}".lower()
    return UserRecord(
        id=new_id(),
        username=name,
        email=f"{name}@example.invalid",
        password_hash="argon2id$workload",
        display_name=f"Query {tag}",
        created_at=now,
    )


def make_post(user_id: str, now: float, text: str = "plans and #indexes") -> PostRecord:
    return PostRecord(
        id=new_id(),
        user_id=user_id,
        text=text,
        tags=["indexes"],
        location=GeoPoint(latitude=48.85, longitude=2.35),
        client_key=new_id(),
        created_at=now,
    )


def make_conversation(
    creator: str, now: float, direct_key: str | None = None
) -> ConversationRecord:
    return ConversationRecord(
        id=new_id(),
        kind="direct" if direct_key else "group",
        created_by=creator,
        created_at=now,
        direct_key=direct_key,
        last_activity_at=now,
    )


def make_messages(
    conversation_id: str, sender: str, first: int, n: int, now: float
) -> list[MessageRecord]:
    return [
        MessageRecord(
            conversation_id=conversation_id,
            seq=seq,
            id=new_id(),
            sender_id=sender,
            text=f"message {seq}",
            client_key=new_id(),
            created_at=now + seq,
        )
        for seq in range(first, first + n)
    ]


def summary_of(entries: list[MessageRecord]) -> ConversationSummaryUpdate:
    last = entries[-1]
    return ConversationSummaryUpdate(
        last_seq=last.seq,
        last_activity_at=last.created_at,
        last_preview=last.text,
        last_sender_id=last.sender_id,
    )


def make_stream(host: str, now: float, status: str = "live") -> StreamRecord:
    stream_id = new_id()
    return StreamRecord(
        id=stream_id,
        host_id=host,
        title="plans live",
        channel=f"stream_{stream_id}",
        status=status,
        scheduled_time=now + 3600 if status == "scheduled" else None,
        start_time=now if status == "live" else None,
        created_at=now,
    )


def make_product(seller: str, now: float) -> ProductRecord:
    return ProductRecord(
        id=new_id(),
        seller_id=seller,
        client_key=new_id(),
        title="Query plan poster",
        description="an index on every wall",
        price=1500,
        currency="USD",
        stock=1000,
        created_at=now,
        updated_at=now,
    )


def make_order(buyer: str, product: ProductRecord, now: float) -> OrderRecord:
    return OrderRecord(
        id=new_id(),
        kind="product",
        buyer_id=buyer,
        seller_id=product.seller_id,
        client_key=new_id(),
        product_id=product.id,
        title=product.title,
        unit_price=product.price,
        amount=product.price,
        currency="USD",
        created_at=now,
        updated_at=now,
        expires_at=now + 3600,
    )


def fund(seller: str, amount: int, now: float) -> LedgerTransaction:
    return LedgerTransaction(
        id=f"fund:{new_id()}",
        kind="payment",
        postings=[
            Posting(account="world", currency="USD", amount=-amount),
            Posting(account=seller_account(seller, "available"), currency="USD", amount=amount),
        ],
        at=now,
    )


def make_payout(seller: str, now: float, amount: int = 100) -> PayoutRecord:
    return PayoutRecord(
        id=new_id(),
        seller_id=seller,
        client_key=new_id(),
        amount=amount,
        currency="USD",
        paypal_email="seller@example.invalid",
        created_at=now,
        updated_at=now,
    )


def make_media(owner: str, now: float) -> MediaRecord:
    media_id = new_id()
    return MediaRecord(
        id=media_id,
        owner_id=owner,
        kind="image",
        mime="image/webp",
        size=1000,
        url=f"https://cdn.example.invalid/{media_id}.webp",
        storage_key=media_id,
        uploaded_bytes=1000,
        created_at=now,
    )


def make_audit(admin: str, target: Target, action: str, now: float) -> AuditRecord:
    return AuditRecord(id=new_id(), admin_id=admin, action=action, target=target, created_at=now)


def make_notification(recipient: str, actor: str, post_id: str, now: float) -> NewNotification:
    return NewNotification(
        id=new_id(),
        recipient_id=recipient,
        kind="like_post",
        group_key=f"like_post:{post_id}",
        actor_id=actor,
        post_id=post_id,
        at=now,
    )
