/**
 * The market store on real clients of a real Grover, which has no PayPal:
 * products listed, edited, paused and deleted as their seller and seen as a
 * buyer; prices typed as decimals arrive as exact minor units; ordering fails
 * with the typed `payments_not_configured` and reserves nothing; a resync
 * fetches the shop again.
 */
import { describe, expect, test } from "vitest";

import { client, signedUp, until } from "../../test/helpers";
import { parsePrice } from "../market/price";
import { GroverError } from "../protocol/client";
import type { OrderView } from "../protocol/types";
import { createMarketStore, mergeOrder } from "./market";

async function seller() {
  const { c, auth } = await signedUp();
  return { c, user: auth.user, market: createMarketStore(c, () => auth.user.id) };
}

async function errorOf(work: Promise<unknown>): Promise<GroverError> {
  const error = await work.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GroverError);
  return error as GroverError;
}

describe("products", () => {
  test("a product typed as decimals is listed in minor units, in the shop, for buyers too", async () => {
    const s = await seller();
    const b = await seller();
    const print = await s.market.getState().createProduct({
      title: "Signed print",
      description: "A3, numbered",
      price: parsePrice("12.50", "USD"),
      currency: "USD",
      stock: 3,
    });
    expect(print.price).toBe(1250);
    expect(print.kind).toBe("physical"); // the protocol's default
    const yen = await s.market.getState().createProduct({
      title: "Preset pack",
      price: parsePrice("1500", "JPY"),
      currency: "JPY",
      kind: "digital",
    });
    expect(yen.price).toBe(1500);
    expect(yen.stock).toBeNull(); // unlimited

    // The buyer's store sees the shop newest first, with exact prices.
    await b.market.getState().loadShop(s.user.id);
    const shop = b.market.getState().shops[s.user.id];
    expect(shop?.ids).toEqual([yen.id, print.id]);
    const seen = b.market.getState().products[print.id];
    expect([seen?.price, seen?.currency, seen?.stock, seen?.seller.username]).toEqual([1250, "USD", 3, s.user.username]);

    // A product the seller adds while their own shop is loaded shows at its top.
    await s.market.getState().loadShop(s.user.id);
    const third = await s.market.getState().createProduct({ title: "Mug", price: 900, currency: "EUR", stock: 0 });
    expect(s.market.getState().shops[s.user.id]?.ids[0]).toBe(third.id);
    s.c.close();
    b.c.close();
  });

  test("edits apply; a paused product is the seller's alone; a deleted one is gone", async () => {
    const s = await seller();
    const b = await seller();
    const p = await s.market.getState().createProduct({ title: "Zine", price: 500, currency: "USD", stock: 10 });
    const edited = await s.market.getState().editProduct(p.id, { price: parsePrice("7.25", "USD"), stock: 4, title: "Zine #2" });
    expect([edited.price, edited.stock, edited.title]).toEqual([725, 4, "Zine #2"]);
    expect((await b.market.getState().loadProduct(p.id)).price).toBe(725);

    await s.market.getState().editProduct(p.id, { status: "paused" });
    expect((await errorOf(b.market.getState().loadProduct(p.id))).code).toBe("not_found");
    expect(b.market.getState().products[p.id]).toBeUndefined(); // forgotten, not shown stale
    await b.market.getState().loadShop(s.user.id);
    expect(b.market.getState().shops[s.user.id]?.ids).toEqual([]);
    await s.market.getState().loadShop(s.user.id);
    expect(s.market.getState().shops[s.user.id]?.ids).toEqual([p.id]);

    // Someone else's product cannot be edited.
    await s.market.getState().editProduct(p.id, { status: "active" });
    expect((await errorOf(b.market.getState().editProduct(p.id, { price: 1 }))).code).toBe("forbidden");

    await s.market.getState().deleteProduct(p.id);
    expect(s.market.getState().shops[s.user.id]?.ids).toEqual([]);
    expect((await errorOf(b.market.getState().loadProduct(p.id))).code).toBe("not_found");
    s.c.close();
    b.c.close();
  });

  test("the server refuses what the form should have caught", async () => {
    const s = await seller();
    const zero = s.market.getState().createProduct({ title: "Free", price: 0, currency: "USD" });
    expect((await errorOf(zero)).code).toBe("invalid_field");
    s.c.close();
  });

  test("search finds active products by word", async () => {
    const s = await seller();
    const word = `zq${Date.now().toString(36)}`;
    const p = await s.market.getState().createProduct({ title: `Poster ${word}`, price: 100, currency: "USD" });
    const found = await s.market.getState().searchProducts(word);
    expect(found.map((x) => x.id)).toContain(p.id);
    s.c.close();
  });
});

describe("orders without PayPal", () => {
  test("buying fails with payments_not_configured and leaves the stock as it was", async () => {
    const s = await seller();
    const b = await seller();
    const p = await s.market.getState().createProduct({ title: "Tote", price: 2000, currency: "USD", stock: 3 });
    await b.market.getState().loadProduct(p.id);
    const failure = await errorOf(b.market.getState().buy(p.id, 2));
    expect(failure.code).toBe("payments_not_configured");
    expect((await s.market.getState().loadProduct(p.id)).stock).toBe(3);
    await until(() => b.market.getState().products[p.id]?.stock === 3);
    expect(b.market.getState().orders).toEqual({});
    await b.market.getState().loadOrders("buyer");
    await s.market.getState().loadOrders("seller");
    expect(b.market.getState().orderLists.buyer).toMatchObject({ ids: [], loaded: true, error: null });
    expect(s.market.getState().orderLists.seller).toMatchObject({ ids: [], loaded: true, error: null });
    s.c.close();
    b.c.close();
  });

  test("the seller's balances start empty", async () => {
    const s = await seller();
    await s.market.getState().loadBalances();
    expect(s.market.getState().balances?.balances).toEqual([]);
    expect(s.market.getState().payouts).toEqual([]);
    s.c.close();
  });
});

describe("mergeOrder", () => {
  const base: OrderView = {
    id: "o1",
    kind: "product",
    buyer: { id: "b" } as OrderView["buyer"],
    seller: { id: "s" } as OrderView["seller"],
    product_id: "p",
    title: "Tote",
    quantity: 1,
    unit_price: 100,
    amount: 100,
    currency: "USD",
    state: "created",
    refunded: 0,
    approval_url: "https://paypal.test/checkoutnow?token=T",
    post_id: null,
    stream_id: null,
    message: "",
    created_at: 10,
    updated_at: 10,
    expires_at: 1810,
    history: [{ from_state: null, to_state: "created", cause: "request:b", at: 10 }],
  };
  const paid: OrderView = {
    ...base,
    state: "paid",
    approval_url: null,
    updated_at: 12,
    history: [...base.history, { from_state: "created", to_state: "paid", cause: "capture", at: 12 }],
  };

  test("a late reply never takes an order back along its history", () => {
    expect(mergeOrder(undefined, base).state).toBe("created");
    expect(mergeOrder(base, paid).state).toBe("paid");
    expect(mergeOrder(paid, base).state).toBe("paid");
    expect(mergeOrder(paid, { ...paid, updated_at: 13, refunded: 0 }).updated_at).toBe(13);
  });
});

describe("resync", () => {
  test("a loaded shop is fetched again when the server cannot resume", async () => {
    const s = await seller();
    const b = await seller();
    const first = await s.market.getState().createProduct({ title: "One", price: 100, currency: "USD" });
    await b.market.getState().loadShop(s.user.id);
    expect(b.market.getState().shops[s.user.id]?.ids).toEqual([first.id]);
    // The buyer is away while a product is added, then comes back as a session the server no longer has.
    b.c.close();
    const second = await s.market.getState().createProduct({ title: "Two", price: 200, currency: "USD" });
    const again = client(b.c.token);
    const market = createMarketStore(again, () => b.user.id);
    market.setState({ shops: b.market.getState().shops, products: b.market.getState().products });
    again.sessionId = "gone-session";
    await again.connect();
    await until(() => market.getState().shops[s.user.id]?.ids.length === 2);
    expect(market.getState().shops[s.user.id]?.ids).toEqual([second.id, first.id]);
    s.c.close();
    again.close();
  });
});
