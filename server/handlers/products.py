"""Handlers of the marketplace's products: a creator's shop (create, edit,
pause, delete), a product, a shop's pages and product search.

Writes go to the store (:class:`~actors.store.market.ProductStore`), reads
go through :class:`~server.handlers.social_views.Viewer`, as in the social
domain: a block either way, or a suspended seller, hides a shop and its
products (``not_found``, their existence not revealed). A paused product is
shown to its seller only; a deleted one to nobody (its orders keep their own
copy of what was bought). Media are the seller's unused uploads, attached as
a post's are (:mod:`server.handlers.attachments`).
"""

from __future__ import annotations

import time

from actors.ids import new_id
from actors.store.market import ProductChanges, ProductRecord
from actors.store.search import query_words
from actors.store.social import PageKey
from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import Empty
from protocol.messages import accounts
from protocol.messages import market as m
from server.context import Caller, Handler, Services
from server.handlers import attachments
from server.handlers.social_views import Viewer, page_of, ranked_page
from server.market.changes import not_found

TARGET_PREFIX = attachments.product_target("")


def _shown_to(product: ProductRecord, me: str) -> bool:
    """Whether the product's status lets ``me`` see it (blocks aside)."""
    return product.status == "active" or (product.status == "paused" and product.seller_id == me)


def product_view(product: ProductRecord, seller: accounts.UserProfile) -> m.ProductView:
    return m.ProductView(
        id=product.id,
        seller=seller,
        title=product.title,
        description=product.description,
        media_urls=list(product.media_urls),
        media_types=list(product.media_types),
        price=product.price,
        currency=product.currency,  # type: ignore[arg-type]  # only Currency values are stored
        stock=product.stock,
        kind="digital" if product.kind == "digital" else "physical",
        status="paused" if product.status == "paused" else "active",
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


async def _visible(viewer: Viewer, product_id: str) -> ProductRecord:
    """The product if ``viewer.me`` may see it, else ``not_found``."""
    product = await viewer.store.products.get(product_id)
    if product is None or not _shown_to(product, viewer.me):
        raise not_found("product")
    await viewer.user(product.seller_id)  # a block either way, a suspended seller
    return product


async def _view(viewer: Viewer, product: ProductRecord) -> m.ProductView:
    sellers = await viewer.authors([product.seller_id])
    seller = sellers.get(product.seller_id)
    if seller is None:
        raise not_found("product")
    return product_view(product, seller)


async def _views(viewer: Viewer, products: list[ProductRecord]) -> list[m.ProductView | None]:
    """Views of the products ``viewer.me`` may see, in order (``None``:
    hidden); three reads whatever the number."""
    if not products:
        return []
    sellers = await viewer.visible_profiles([p.seller_id for p in products])
    return [
        product_view(p, sellers[p.seller_id])
        if p.seller_id in sellers and _shown_to(p, viewer.me)
        else None
        for p in products
    ]


async def _own(viewer: Viewer, product_id: str) -> ProductRecord:
    """The caller's product: ``forbidden`` for someone else's they may see,
    ``not_found`` for one they may not (or none)."""
    product = await _visible(viewer, product_id)
    if product.seller_id != viewer.me:
        raise ProtocolError(ErrorCode.FORBIDDEN, "only its seller may change a product")
    return product


# ------------------------------------------------------------------ writes


async def create(services: Services, caller: Caller, req: m.CreateProduct) -> m.ProductView:
    me = caller.user()
    viewer = Viewer(services.store, me)
    media_ids = list(req.media_ids)
    product_id = new_id()
    target = attachments.product_target(product_id)
    try:
        media = await attachments.attach(services, me, media_ids, target)
    except ProtocolError:
        original = await _created_with(services, me, req.client_key, media_ids)
        if original is None:
            raise
        return await _view(viewer, original)
    now = time.time()
    record = ProductRecord(
        id=product_id,
        seller_id=me,
        client_key=req.client_key,
        title=req.title,
        description=req.description,
        media_ids=media_ids,
        media_urls=[medium.url for medium in media],
        media_types=[medium.kind for medium in media],
        price=req.price,
        currency=req.currency,
        stock=req.stock,
        kind=req.kind,
        created_at=now,
        updated_at=now,
    )
    try:
        stored = await services.store.products.create(record)
    except Exception:
        await attachments.release(services, target)
        raise
    if stored.id != product_id:  # a retry: the first product keeps its own media
        await attachments.release(services, target)
        if stored.status == "deleted":  # the key stays spent
            raise ProtocolError(ErrorCode.NOT_FOUND, "that product was deleted")
    return await _view(viewer, stored)


async def _created_with(
    services: Services, me: str, client_key: str, media_ids: list[str]
) -> ProductRecord | None:
    """A retried create whose first attempt attached these media: its
    product (the media say which), if it is the caller's with this key."""
    if not media_ids:
        return None
    medium = await services.store.media.get(media_ids[0])
    held_by = medium.attached_to if medium is not None else None
    if held_by is None or not held_by.startswith(TARGET_PREFIX):
        return None
    product = await services.store.products.get(held_by.removeprefix(TARGET_PREFIX))
    if product is None or product.seller_id != me or product.client_key != client_key:
        return None
    if product.status == "deleted":
        raise ProtocolError(ErrorCode.NOT_FOUND, "that product was deleted")
    return product


async def edit(services: Services, caller: Caller, req: m.EditProduct) -> m.ProductView:
    viewer = Viewer(services.store, caller.user())
    if req.unlimited and req.stock is not None:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "give stock or unlimited, not both")
    product = await _own(viewer, req.product_id)
    changes = ProductChanges(
        title=req.title,
        description=req.description,
        price=req.price,
        stock=req.stock,
        set_stock=req.unlimited or req.stock is not None,
        status=req.status,
        at=time.time(),
    )
    if req.media_ids is not None:
        media_ids = list(req.media_ids)
        target = attachments.product_target(product.id)
        media = await attachments.replace(services, viewer.me, product.media_ids, media_ids, target)
        changes.media_ids = media_ids
        changes.media_urls = [medium.url for medium in media]
        changes.media_types = [medium.kind for medium in media]
    edited = await services.store.products.edit(product.id, changes)
    if edited is None:  # deleted meanwhile (which released its media)
        raise not_found("product")
    return await _view(viewer, edited)


async def delete(services: Services, caller: Caller, req: m.DeleteProduct) -> Empty:
    viewer = Viewer(services.store, caller.user())
    product = await _own(viewer, req.product_id)
    deleted = await services.store.products.edit(
        product.id, ProductChanges(status="deleted", at=time.time())
    )
    if deleted is None:
        raise not_found("product")
    await attachments.release(services, attachments.product_target(product.id))
    return Empty()


# ------------------------------------------------------------------- reads


async def get(services: Services, caller: Caller, req: m.GetProduct) -> m.ProductView:
    viewer = Viewer(services.store, caller.user())
    return await _view(viewer, await _visible(viewer, req.product_id))


async def by_seller(services: Services, caller: Caller, req: m.ShopProducts) -> m.ProductPage:
    viewer = Viewer(services.store, caller.user())
    await viewer.user(req.user_id)
    # The seller's own shop has paused products too: a list of its own.
    own = req.user_id == viewer.me
    scope = f"{'own_shop' if own else 'shop'}:{req.user_id}"
    before = await services.cursors.decode(scope, req.cursor)
    rows = await services.store.products.by_seller(
        req.user_id, include_paused=own, before=before, limit=req.limit + 1
    )

    def key(product: ProductRecord) -> PageKey:
        return product.created_at, product.id

    products, next_cursor = await page_of(
        services.cursors,
        scope,
        rows,
        limit=req.limit,
        key=key,
        views=await _views(viewer, rows[: req.limit]),
    )
    return m.ProductPage(products=products, next_cursor=next_cursor)


async def search(services: Services, caller: Caller, req: m.SearchProducts) -> m.ProductPage:
    viewer = Viewer(services.store, caller.user())
    words = " ".join(query_words(req.query))
    if not words:  # nothing to look for: nothing found, and the engine is not asked
        return m.ProductPage(products=[], next_cursor=None)

    async def fetch(offset: int, limit: int) -> list[ProductRecord]:
        return await services.store.products.search(words, offset=offset, limit=limit)

    async def views_of(rows: list[ProductRecord]) -> list[m.ProductView | None]:
        return await _views(viewer, rows)

    products, next_cursor = await ranked_page(
        services.cursors,
        f"products:search:{words}",
        req.cursor,
        limit=req.limit,
        fetch=fetch,
        views_of=views_of,
    )
    return m.ProductPage(products=products, next_cursor=next_cursor)


HANDLERS: dict[type, Handler] = {
    m.CreateProduct: create,
    m.EditProduct: edit,
    m.DeleteProduct: delete,
    m.GetProduct: get,
    m.ShopProducts: by_seller,
    m.SearchProducts: search,
}
