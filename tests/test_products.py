"""Products and shops through their handlers on both storage backends (the
``social`` fixture of ``test_social.py``): create and its retry, edits of
each field, pause, delete, shop pages and cursors, search, who may do what,
blocks, and bad input through the wire decoder (``node.send``), which
answers ``invalid_field`` before any handler runs. Text search is skipped on
the MongoDB stand-in, as in ``test_search.py``."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from actors.ids import new_id
from protocol import limits
from protocol.errors import ErrorCode
from protocol.frames import Empty
from protocol.messages import accounts
from protocol.messages import market as m
from server.context import Caller
from server.storage import MongoStore
from tests.harness import Node, next_id
from tests.store.backends import MONGO_URL, STANDIN_NO_TEXT
from tests.test_search import skip_on_standin
from tests.test_social import refused, social, uploaded

__all__ = ["social"]  # the fixture, shared


async def make(node: Node, seller: Caller, title: str = "Mug", **fields: Any) -> m.ProductView:
    fields.setdefault("client_key", f"k{next_id()}")
    fields.setdefault("price", 1500)
    fields.setdefault("currency", "USD")
    return await node.send(seller, m.CreateProduct, title=title, **fields)  # type: ignore[no-any-return]


async def shop(node: Node, viewer: Caller, seller: Caller, **fields: Any) -> m.ProductPage:
    return await node.send(viewer, m.ShopProducts, user_id=seller.user(), **fields)  # type: ignore[no-any-return]


def titles(page: m.ProductPage) -> list[str]:
    return [p.title for p in page.products]


async def attached_to(node: Node, *media_ids: str) -> list[str | None]:
    found = await node.store.media.get_many(list(media_ids))
    return [found[i].attached_to for i in media_ids]


# ------------------------------------------------------------------- create


async def test_a_product_shows_its_seller_media_and_terms(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    await social.call(bob, accounts.BlockUser, user_id=ada.user())
    await social.call(bob, accounts.UnblockUser, user_id=ada.user())
    photo, clip = await uploaded(social, ada), await uploaded(social, ada, "video")
    view = await make(
        social,
        ada,
        "Print",
        description="A4, signed",
        media_ids=[photo.id, clip.id],
        price=2000,
        currency="JPY",
        stock=3,
        kind="digital",
    )
    assert (view.title, view.description, view.price, view.currency) == (
        "Print",
        "A4, signed",
        2000,
        "JPY",
    )
    assert (view.stock, view.kind, view.status) == (3, "digital", "active")
    assert (view.media_urls, view.media_types) == ([photo.url, clip.url], ["image", "video"])
    assert view.seller.id == ada.user() and view.seller.username == "ada"
    assert await attached_to(social, photo.id, clip.id) == [f"product:{view.id}"] * 2
    got = await social.send(bob, m.GetProduct, product_id=view.id)
    assert got.id == view.id and got.seller.id == ada.user()
    unlimited = await make(social, ada, "Sticker")
    assert (unlimited.stock, unlimited.kind, unlimited.media_urls) == (None, "physical", [])


async def test_a_retried_create_returns_the_first_product(social: Node) -> None:
    ada = await social.user("ada")
    photo, other = await uploaded(social, ada), await uploaded(social, ada)
    first = await make(social, ada, "Mug", client_key="same", media_ids=[photo.id])
    again = await make(social, ada, "Mug, retried", client_key="same", media_ids=[photo.id])
    fresh = await make(social, ada, "Mug, third", client_key="same", media_ids=[other.id])
    plain = await make(social, ada, "Mug, fourth", client_key="same")
    assert {again.id, fresh.id, plain.id} == {first.id}
    assert {again.title, fresh.title, plain.title} == {"Mug"}
    assert again.media_urls == [photo.url]
    # The retry's own media went back: nothing else holds them.
    assert await attached_to(social, photo.id, other.id) == [f"product:{first.id}", None]
    assert titles(await shop(social, ada, ada)) == ["Mug"]


# --------------------------------------------------------------------- edit


async def test_the_seller_edits_each_field(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    old, kept, new = [await uploaded(social, ada) for _ in range(3)]
    made = await make(social, ada, media_ids=[old.id, kept.id], stock=5)
    pid = made.id
    edits: list[tuple[dict[str, Any], Any]] = [
        ({"title": "Big mug"}, lambda v: v.title == "Big mug"),
        ({"description": "500 ml"}, lambda v: v.description == "500 ml"),
        ({"price": 1999}, lambda v: v.price == 1999),
        ({"stock": 0}, lambda v: v.stock == 0),
        ({"unlimited": True}, lambda v: v.stock is None),
        ({"stock": 7}, lambda v: v.stock == 7),
        ({"status": "paused"}, lambda v: v.status == "paused"),
        ({"status": "active"}, lambda v: v.status == "active"),
        ({"media_ids": [kept.id, new.id]}, lambda v: v.media_urls == [kept.url, new.url]),
    ]
    for fields, check in edits:
        view = await social.send(ada, m.EditProduct, product_id=pid, **fields)
        assert check(view), fields
        assert check(await social.send(ada, m.GetProduct, product_id=pid)), fields  # stored
    final = await social.send(bob, m.GetProduct, product_id=pid)
    assert (final.title, final.description, final.price, final.stock) == (
        "Big mug",
        "500 ml",
        1999,
        7,
    )
    assert final.updated_at >= made.updated_at and final.created_at == made.created_at
    # The dropped medium went back to the sweep; the kept and new ones are the product's.
    assert await attached_to(social, old.id, kept.id, new.id) == [None] + [f"product:{pid}"] * 2
    cleared = await social.send(ada, m.EditProduct, product_id=pid, media_ids=[])
    assert cleared.media_urls == []
    assert await attached_to(social, kept.id, new.id) == [None, None]
    await refused(
        ErrorCode.INVALID_FIELD,
        social.send(ada, m.EditProduct, product_id=pid, stock=3, unlimited=True),
    )


async def test_only_the_seller_edits_or_deletes_and_unknown_products_are_not_found(
    social: Node,
) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    pid = (await make(social, ada)).id
    await refused(ErrorCode.FORBIDDEN, social.send(bob, m.EditProduct, product_id=pid, price=1))
    await refused(ErrorCode.FORBIDDEN, social.send(bob, m.DeleteProduct, product_id=pid))
    for request, fields in (
        (m.GetProduct, {}),
        (m.EditProduct, {"title": "x"}),
        (m.DeleteProduct, {}),
    ):
        await refused(ErrorCode.NOT_FOUND, social.send(ada, request, product_id=new_id(), **fields))
    assert (await social.send(ada, m.GetProduct, product_id=pid)).price == 1500


# ------------------------------------------------------------ pause, delete


async def test_a_paused_product_is_hidden_from_others_but_not_its_seller(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    mug, hat = await make(social, ada, "Mug"), await make(social, ada, "Hat")
    await social.send(ada, m.EditProduct, product_id=mug.id, status="paused")
    await refused(ErrorCode.NOT_FOUND, social.send(bob, m.GetProduct, product_id=mug.id))
    await refused(ErrorCode.FORBIDDEN, social.send(bob, m.EditProduct, product_id=hat.id))
    # Someone else's paused product is not revealed, not even by an edit.
    await refused(
        ErrorCode.NOT_FOUND, social.send(bob, m.EditProduct, product_id=mug.id, title="x")
    )
    assert titles(await shop(social, bob, ada)) == ["Hat"]
    assert titles(await shop(social, ada, ada)) == ["Hat", "Mug"]
    assert (await social.send(ada, m.GetProduct, product_id=mug.id)).status == "paused"
    await social.send(ada, m.EditProduct, product_id=mug.id, status="active")
    assert titles(await shop(social, bob, ada)) == ["Hat", "Mug"]


async def test_a_deleted_product_is_gone_and_its_media_released(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    photo = await uploaded(social, ada)
    mug = await make(social, ada, media_ids=[photo.id])
    assert await social.send(ada, m.DeleteProduct, product_id=mug.id) == Empty()
    for caller in (ada, bob):
        await refused(ErrorCode.NOT_FOUND, social.send(caller, m.GetProduct, product_id=mug.id))
        assert titles(await shop(social, caller, ada)) == []
    await refused(ErrorCode.NOT_FOUND, social.send(ada, m.DeleteProduct, product_id=mug.id))
    await refused(
        ErrorCode.NOT_FOUND, social.send(ada, m.EditProduct, product_id=mug.id, title="back")
    )
    assert await attached_to(social, photo.id) == [None]
    stored = await social.store.products.get(mug.id)  # its orders still name it
    assert stored is not None and stored.status == "deleted"


# -------------------------------------------------------------- shop pages


async def test_a_shop_pages_newest_first_with_cursors_bound_to_it(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    for i in range(5):
        await make(social, ada, f"p{i}")
    await make(social, bob, "theirs")
    seen: list[str] = []
    cursor = None
    for expected in (["p4", "p3"], ["p2", "p1"], ["p0"]):
        page = await shop(social, bob, ada, limit=2, cursor=cursor)
        assert titles(page) == expected
        seen += titles(page)
        cursor = page.next_cursor
    assert cursor is None and len(set(seen)) == 5
    first = await shop(social, bob, ada, limit=2)
    assert first.next_cursor is not None
    for wrong in (
        shop(social, bob, bob, cursor=first.next_cursor),  # another shop
        shop(social, ada, ada, cursor=first.next_cursor),  # the seller's own list
        shop(social, bob, ada, cursor=base64.urlsafe_b64encode(b"forged" * 4).decode()),
    ):
        await refused(ErrorCode.INVALID_FIELD, wrong)
    await refused(ErrorCode.NOT_FOUND, social.send(bob, m.ShopProducts, user_id=new_id()))


# ------------------------------------------------------------------ blocks


async def test_a_block_either_way_hides_the_shop_and_its_products(social: Node) -> None:
    ada, bob, eve = [await social.user(x) for x in ("ada", "bob", "eve")]
    mug = await make(social, ada, "Red mug")
    theirs = await make(social, bob, "Red hat")
    await social.call(ada, accounts.BlockUser, user_id=bob.user())
    for viewer, seller, product in ((bob, ada, mug), (ada, bob, theirs)):
        await refused(ErrorCode.NOT_FOUND, social.send(viewer, m.GetProduct, product_id=product.id))
        await refused(ErrorCode.NOT_FOUND, shop(social, viewer, seller))
        await refused(
            ErrorCode.NOT_FOUND,
            social.send(viewer, m.EditProduct, product_id=product.id, title="x"),
        )
    assert titles(await shop(social, eve, ada)) == ["Red mug"]
    if not isinstance(social.store, MongoStore) or MONGO_URL is not None:  # $text
        found = await social.send(bob, m.SearchProducts, query="red")
        assert titles(found) == ["Red hat"]
    await social.call(ada, accounts.UnblockUser, user_id=bob.user())
    assert (await social.send(bob, m.GetProduct, product_id=mug.id)).title == "Red mug"


# ------------------------------------------------------------------ search


async def test_search_finds_active_products_by_words_and_pages(social: Node) -> None:
    skip_on_standin(social, STANDIN_NO_TEXT)
    ada, bob = await social.user("ada"), await social.user("bob")
    await make(social, ada, "Red mug", description="ceramic")
    await make(social, ada, "Blue mug")
    hat = await make(social, bob, "Red hat", description="wool")
    paused = await make(social, bob, "Red scarf")
    await social.send(bob, m.EditProduct, product_id=paused.id, status="paused")
    gone = await make(social, bob, "Red gloves")
    await social.send(bob, m.DeleteProduct, product_id=gone.id)

    async def find(**fields: Any) -> m.ProductPage:
        return await social.send(ada, m.SearchProducts, **fields)  # type: ignore[no-any-return]

    assert sorted(titles(await find(query="mug"))) == ["Blue mug", "Red mug"]
    assert sorted(titles(await find(query="red"))) == ["Red hat", "Red mug"]
    assert titles(await find(query="WOOL!")) == ["Red hat"]
    assert titles(await find(query="ceramic")) == ["Red mug"]
    assert (await find(query="!!")).products == []
    found: list[str] = []
    page = await find(query="red mug", limit=1)
    while True:
        found += [p.id for p in page.products]
        if page.next_cursor is None:
            break
        page = await find(query="red mug", limit=1, cursor=page.next_cursor)
    assert len(found) == len(set(found)) == 3 and hat.id in found
    first = await find(query="mug", limit=1)
    assert first.next_cursor is not None
    await refused(ErrorCode.INVALID_FIELD, find(query="hat", cursor=first.next_cursor))


# -------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "fields",
    [
        {"price": -100},
        {"price": 0},
        {"price": 12.5},
        {"price": 12.0},
        {"price": limits.PRICE_MAX + 1},
        {"currency": "XYZ"},
        {"currency": "usd"},
        {"stock": limits.STOCK_MAX + 1},
        {"stock": -1},
        {"title": ""},
        {"title": "x" * (limits.TITLE_MAX + 1)},
        {"description": "x" * (limits.PRODUCT_DESCRIPTION_MAX + 1)},
        {"kind": "service"},
        {"media_ids": [new_id() for _ in range(limits.PRODUCT_MEDIA_MAX + 1)]},
    ],
    ids=lambda f: f"{next(iter(f))}={str(next(iter(f.values())))[:12]}",
)
async def test_bad_product_input_is_refused_at_decode_and_changes_nothing(
    node: Node, fields: dict[str, Any]
) -> None:
    ada = await node.user("ada")
    await refused(ErrorCode.INVALID_FIELD, make(node, ada, **fields))
    assert titles(await shop(node, ada, ada)) == []
    mug = await make(node, ada, "Mug", stock=2)
    edit = {k: v for k, v in fields.items() if k not in {"currency", "kind"}}
    if edit:
        await refused(
            ErrorCode.INVALID_FIELD, node.send(ada, m.EditProduct, product_id=mug.id, **edit)
        )
    after = await node.send(ada, m.GetProduct, product_id=mug.id)
    assert (after.title, after.price, after.stock, after.updated_at) == (
        "Mug",
        1500,
        2,
        mug.updated_at,
    )


async def test_only_ones_own_unused_media_go_on_a_product(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    mine, theirs = await uploaded(social, ada), await uploaded(social, bob)
    for ids in ([theirs.id], [mine.id, theirs.id], [new_id()]):
        await refused(ErrorCode.FORBIDDEN, make(social, ada, media_ids=ids))
    await refused(ErrorCode.INVALID_FIELD, make(social, ada, media_ids=[mine.id, mine.id]))
    assert titles(await shop(social, ada, ada)) == []
    assert await attached_to(social, mine.id, theirs.id) == [None, None]
    mug = await make(social, ada, media_ids=[mine.id])
    await refused(ErrorCode.FORBIDDEN, make(social, ada, "Copy", media_ids=[mine.id]))
    await refused(
        ErrorCode.FORBIDDEN,
        social.send(ada, m.EditProduct, product_id=mug.id, media_ids=[mine.id, theirs.id]),
    )
    after = await social.send(ada, m.GetProduct, product_id=mug.id)
    assert after.media_urls == [mine.url]
    assert await attached_to(social, mine.id, theirs.id) == [f"product:{mug.id}", None]
    assert titles(await shop(social, ada, ada)) == ["Mug"]
