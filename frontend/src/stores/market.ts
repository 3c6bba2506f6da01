/**
 * The marketplace: products and shops, orders as buyer and seller, and the
 * seller's balances and payouts.
 *
 * Products and orders are kept once each, by id; shops and order lists hold
 * ids in the server's order (newest first), so a change to one product or
 * order shows wherever it is listed. Orders change on their own (PayPal
 * approves, captures, an order expires): `order.updated` brings each change
 * to the buyer's and the seller's sessions, and a reply may arrive after a
 * newer event, so an order is replaced only by one at least as far along its
 * `history`. Stock moves with orders, so a change to an order refetches its
 * product when it is on screen. After a `resync` whatever was loaded is
 * fetched again. Amounts are integers of minor units throughout.
 */
import { createStore, type StoreApi } from "zustand/vanilla";

import type { GroverClient } from "../protocol/client";
import { newClientKey } from "../protocol/keys";
import type {
  Balances,
  Outgoing,
  OrderView,
  PayoutView,
  ProductView,
} from "../protocol/types";
import type { Grover } from "../runtime/grover";

export type OrderRole = "buyer" | "seller";
export type ProductDraft = Omit<Outgoing<"product.create">, "type" | "client_key">;
export type ProductChanges = Omit<Outgoing<"product.edit">, "type" | "product_id">;

/** A list of ids fetched page by page. */
export interface Listing {
  ids: string[];
  next: string | null;
  loading: boolean;
  loaded: boolean;
  /** What the last fetch threw, for the screen to word with `describe`. */
  error: unknown;
}

const EMPTY: Listing = { ids: [], next: null, loading: false, loaded: false, error: null };

export interface MarketState {
  products: Record<string, ProductView>;
  /** Each seller's shop, by seller id. */
  shops: Record<string, Listing>;
  orders: Record<string, OrderView>;
  orderLists: Record<OrderRole, Listing>;
  balances: Balances | null;
  payouts: PayoutView[];

  loadProduct(productId: string): Promise<ProductView>;
  /** The first page of a seller's shop, or the next one with `more`. */
  loadShop(sellerId: string, more?: boolean): Promise<void>;
  createProduct(draft: ProductDraft): Promise<ProductView>;
  editProduct(productId: string, changes: ProductChanges): Promise<ProductView>;
  deleteProduct(productId: string): Promise<void>;
  searchProducts(query: string): Promise<ProductView[]>;

  /** Order `quantity` of a product: the order comes back `created`, with PayPal's `approval_url`. */
  buy(productId: string, quantity?: number): Promise<OrderView>;
  loadOrder(orderId: string): Promise<OrderView>;
  capture(orderId: string): Promise<OrderView>;
  cancel(orderId: string): Promise<OrderView>;
  fulfill(orderId: string): Promise<OrderView>;
  loadOrders(role: OrderRole, more?: boolean): Promise<void>;
  /** Take in an order from wherever it came (a reply, a page, an event). */
  receiveOrder(order: OrderView): void;

  loadBalances(): Promise<void>;
}

export type MarketStore = StoreApi<MarketState>;

/** How far along its history an order is: every change adds an entry. */
function progress(order: OrderView): [number, number] {
  return [order.history.length, order.updated_at];
}

/** The later of two copies of one order (the incoming one on a tie). */
export function mergeOrder(known: OrderView | undefined, incoming: OrderView): OrderView {
  if (known === undefined) return incoming;
  const [a, b] = [progress(known), progress(incoming)];
  if (a[0] !== b[0]) return a[0] > b[0] ? known : incoming;
  return a[1] > b[1] ? known : incoming;
}

function withoutId(ids: string[], id: string): string[] {
  return ids.filter((x) => x !== id);
}

export function createMarketStore(
  client: GroverClient,
  me: () => string | null,
  newKey: () => string = newClientKey,
): MarketStore {
  // What screens opened one by one (not through a list): fetched again after a resync.
  const openedProducts = new Set<string>();
  const openedOrders = new Set<string>();

  const store = createStore<MarketState>()((set, get) => {
    function putProducts(products: ProductView[]): void {
      const next = { ...get().products };
      for (const p of products) next[p.id] = p;
      set({ products: next });
    }

    function setShop(sellerId: string, change: Partial<Listing>): void {
      const shops = get().shops;
      set({ shops: { ...shops, [sellerId]: { ...(shops[sellerId] ?? EMPTY), ...change } } });
    }

    function setList(role: OrderRole, change: Partial<Listing>): void {
      const lists = get().orderLists;
      set({ orderLists: { ...lists, [role]: { ...lists[role], ...change } } });
    }

    function receiveOrder(order: OrderView): void {
      const { orders, orderLists } = get();
      const merged = mergeOrder(orders[order.id], order);
      const lists = { ...orderLists };
      const mine = me();
      // A new order shows at the top of a list already on screen.
      for (const role of ["buyer", "seller"] as const) {
        const party = role === "buyer" ? order.buyer.id : order.seller.id;
        const list = lists[role];
        if (party === mine && list.loaded && !list.ids.includes(order.id)) {
          lists[role] = { ...list, ids: [order.id, ...list.ids] };
        }
      }
      set({ orders: { ...orders, [order.id]: merged }, orderLists: lists });
    }

    return {
      products: {},
      shops: {},
      orders: {},
      orderLists: { buyer: EMPTY, seller: EMPTY },
      balances: null,
      payouts: [],
      receiveOrder,

      async loadProduct(productId) {
        openedProducts.add(productId);
        try {
          const product = await client.request("product.get", { product_id: productId });
          putProducts([product]);
          return product;
        } catch (error) {
          // Gone (deleted, or its seller blocked): no longer in the shops either.
          if ((error as { code?: string }).code === "not_found") forget(productId);
          throw error;
        }
      },

      async loadShop(sellerId, more = false) {
        const shop = get().shops[sellerId] ?? EMPTY;
        if (shop.loading || (more && shop.next === null)) return;
        setShop(sellerId, { loading: true, error: null });
        try {
          const page = await client.request("product.by_seller", {
            user_id: sellerId,
            cursor: more ? shop.next : null,
          });
          putProducts(page.products);
          const ids = page.products.map((p) => p.id);
          const before = more ? (get().shops[sellerId]?.ids ?? []) : [];
          setShop(sellerId, {
            ids: [...before, ...ids.filter((id) => !before.includes(id))],
            next: page.next_cursor,
            loading: false,
            loaded: true,
          });
        } catch (error) {
          setShop(sellerId, { loading: false, loaded: true, error });
          throw error;
        }
      },

      async createProduct(draft) {
        const product = await client.send("product.create", { ...draft, client_key: newKey() });
        putProducts([product]);
        const shop = get().shops[product.seller.id];
        if (shop !== undefined && !shop.ids.includes(product.id)) {
          setShop(product.seller.id, { ids: [product.id, ...shop.ids] });
        }
        return product;
      },

      async editProduct(productId, changes) {
        const product = await client.request("product.edit", { product_id: productId, ...changes });
        putProducts([product]);
        return product;
      },

      async deleteProduct(productId) {
        await client.request("product.delete", { product_id: productId });
        forget(productId);
      },

      async searchProducts(query) {
        const page = await client.request("product.search", { query });
        putProducts(page.products);
        return page.products;
      },

      async buy(productId, quantity = 1) {
        try {
          const order = await client.send("order.create", {
            client_key: newKey(),
            product_id: productId,
            quantity,
          });
          receiveOrder(order);
          openedOrders.add(order.id);
          return order;
        } finally {
          // Reserved, or refused as sold out or paused: either way the product changed.
          refreshProduct(productId);
        }
      },

      async loadOrder(orderId) {
        openedOrders.add(orderId);
        const order = await client.request("order.get", { order_id: orderId });
        receiveOrder(order);
        return order;
      },

      async capture(orderId) {
        const order = await client.request("order.capture", { order_id: orderId });
        receiveOrder(order);
        return order;
      },

      async cancel(orderId) {
        const order = await client.request("order.cancel", { order_id: orderId });
        receiveOrder(order);
        refreshProduct(order.product_id);
        return order;
      },

      async fulfill(orderId) {
        const order = await client.request("order.fulfill", { order_id: orderId });
        receiveOrder(order);
        return order;
      },

      async loadOrders(role, more = false) {
        const list = get().orderLists[role];
        if (list.loading || (more && list.next === null)) return;
        setList(role, { loading: true, error: null });
        try {
          const page = await client.request("order.list", { role, cursor: more ? list.next : null });
          for (const order of page.orders) receiveOrder(order);
          const ids = page.orders.map((o) => o.id);
          const before = more ? get().orderLists[role].ids : [];
          setList(role, {
            ids: [...before, ...ids.filter((id) => !before.includes(id))],
            next: page.next_cursor,
            loading: false,
            loaded: true,
          });
        } catch (error) {
          setList(role, { loading: false, loaded: true, error });
          throw error;
        }
      },

      async loadBalances() {
        const [balances, payouts] = await Promise.all([
          client.request("balance.get", {}),
          client.request("payout.list", {}),
        ]);
        set({ balances, payouts: payouts.payouts });
      },
    };

    function forget(productId: string): void {
      const { [productId]: _gone, ...products } = get().products;
      const shops = Object.fromEntries(
        Object.entries(get().shops).map(([seller, shop]) => [seller, { ...shop, ids: withoutId(shop.ids, productId) }]),
      );
      set({ products, shops });
    }
  });

  /** Refetch a product on screen, quietly: its stock follows its orders. */
  function refreshProduct(productId: string | null): void {
    if (productId === null || store.getState().products[productId] === undefined) return;
    store
      .getState()
      .loadProduct(productId)
      .catch(() => undefined);
  }

  client.onEvent((event) => {
    if (event.type === "order.updated") {
      store.getState().receiveOrder(event.order);
      refreshProduct(event.order.product_id);
    } else if (event.type === "payout.updated") {
      const payouts = store.getState().payouts;
      const others = payouts.filter((p) => p.id !== event.payout.id);
      store.setState({ payouts: [event.payout, ...others].sort((a, b) => b.created_at - a.created_at) });
    }
  });

  client.onResync(() => {
    const state = store.getState();
    const quietly = (work: Promise<unknown>) => void work.catch(() => undefined);
    for (const sellerId of Object.keys(state.shops)) quietly(state.loadShop(sellerId));
    for (const role of ["buyer", "seller"] as const) {
      if (state.orderLists[role].loaded) quietly(state.loadOrders(role));
    }
    for (const id of openedProducts) quietly(state.loadProduct(id));
    for (const id of openedOrders) quietly(state.loadOrder(id));
    if (state.balances !== null) quietly(state.loadBalances());
  });

  return store;
}

/** This login's market store: `grover.part(marketOf)`. */
export function marketOf(grover: Grover): MarketStore {
  return createMarketStore(grover.client, () => grover.session.getState().user?.id ?? null);
}
