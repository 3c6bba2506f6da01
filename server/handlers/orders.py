"""Orders, tips, balances and payouts (the money half of the marketplace;
products are :mod:`server.handlers.products`). The operations live in
:mod:`server.market`; here are who may do what, and the views."""

from __future__ import annotations

from actors.store.market import OrderRecord
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import market as m
from server.context import Caller, Handler, Services
from server.handlers.social_views import page_of
from server.market import orders, payouts
from server.market.changes import not_found
from server.market.views import balances, order_views, payout_view


async def _view(services: Services, order: OrderRecord) -> m.OrderView:
    views = await order_views(services.store, [order])
    if not views:
        raise not_found("order")
    return views[0]


async def _own(services: Services, me: str, order_id: str, role: str) -> OrderRecord:
    """The order if ``me`` is its ``role`` (``buyer``, ``seller`` or
    ``party``: either); anyone else gets ``not_found`` or ``forbidden``."""
    order = await services.store.orders.get(order_id)
    if order is None or me not in (order.buyer_id, order.seller_id):
        raise not_found("order")
    if role == "buyer" and me != order.buyer_id:
        raise ProtocolError(ErrorCode.FORBIDDEN, "only the buyer may do this")
    if role == "seller" and me != order.seller_id:
        raise ProtocolError(ErrorCode.FORBIDDEN, "only the seller may do this")
    return order


async def create_order(services: Services, caller: Caller, req: m.CreateOrder) -> m.OrderView:
    order = await orders.open_product_order(services, caller.user(), req)
    return await _view(services, order)


async def create_tip(services: Services, caller: Caller, req: m.CreateTip) -> m.OrderView:
    order = await orders.open_tip(services, caller.user(), req)
    return await _view(services, order)


async def capture(services: Services, caller: Caller, req: m.CaptureOrder) -> m.OrderView:
    me = caller.user()
    order = await _own(services, me, req.order_id, "buyer")
    order = await orders.capture(services, order)
    return await _view(services, order)


async def cancel(services: Services, caller: Caller, req: m.CancelOrder) -> m.OrderView:
    me = caller.user()
    order = await _own(services, me, req.order_id, "buyer")
    return await _view(services, await orders.cancel(services, order, f"request:{me}"))


async def fulfill(services: Services, caller: Caller, req: m.FulfillOrder) -> m.OrderView:
    me = caller.user()
    order = await _own(services, me, req.order_id, "seller")
    return await _view(services, await orders.fulfill(services, order, f"request:{me}"))


async def refund(services: Services, caller: Caller, req: m.RefundOrder) -> m.OrderView:
    me = caller.user()
    orders.require_payments(services)
    order = await _own(services, me, req.order_id, "seller")
    order = await orders.refund(services, order, req.amount, req.client_key, f"request:{me}")
    return await _view(services, order)


async def get_order(services: Services, caller: Caller, req: m.GetOrder) -> m.OrderView:
    return await _view(services, await _own(services, caller.user(), req.order_id, "party"))


async def list_orders(services: Services, caller: Caller, req: m.ListOrders) -> m.OrderPage:
    me = caller.user()
    scope = f"orders:{req.role}"
    before = await services.cursors.decode(scope, req.cursor)
    rows = await services.store.orders.list_by(me, req.role, before=before, limit=req.limit + 1)
    views = {v.id: v for v in await order_views(services.store, rows)}
    listed, next_cursor = await page_of(
        services.cursors,
        scope,
        rows,
        limit=req.limit,
        key=lambda o: (o.created_at, o.id),
        views=[views.get(o.id) for o in rows],
    )
    return m.OrderPage(orders=listed, next_cursor=next_cursor)


async def get_balances(services: Services, caller: Caller, req: m.GetBalances) -> m.Balances:
    return await balances(services.store, caller.user(), services.settings.payout_minimum)


async def request_payout(services: Services, caller: Caller, req: m.RequestPayout) -> m.PayoutView:
    return payout_view(await payouts.request_payout(services, caller.user(), req))


async def list_payouts(services: Services, caller: Caller, req: m.ListPayouts) -> m.PayoutPage:
    me = caller.user()
    before = await services.cursors.decode("payouts", req.cursor)
    rows = await services.store.payouts.list_by(me, before=before, limit=req.limit + 1)
    listed, next_cursor = await page_of(
        services.cursors,
        "payouts",
        rows,
        limit=req.limit,
        key=lambda p: (p.created_at, p.id),
        views=[payout_view(p) for p in rows],
    )
    return m.PayoutPage(payouts=listed, next_cursor=next_cursor)


HANDLERS: dict[type, Handler] = {
    m.CreateOrder: create_order,
    m.CreateTip: create_tip,
    m.CaptureOrder: capture,
    m.CancelOrder: cancel,
    m.FulfillOrder: fulfill,
    m.RefundOrder: refund,
    m.GetOrder: get_order,
    m.ListOrders: list_orders,
    m.GetBalances: get_balances,
    m.RequestPayout: request_payout,
    m.ListPayouts: list_payouts,
}
