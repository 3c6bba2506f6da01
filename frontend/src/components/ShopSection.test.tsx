// @vitest-environment jsdom
/**
 * ShopSection on a real Grover (the app's own `Grover`, logged in): someone
 * else's shop shows its products with their prices and leads to them; an
 * empty one shows nothing; my own, even empty, offers "Add product".
 * expo-router's navigation is a spy (it needs a navigator to run).
 */
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterAll, afterEach, beforeAll, expect, test, vi } from "vitest";

import { signedUp } from "../../test/helpers";
import type { Grover } from "../runtime/grover";
import { runningGrover, stopRunningGrover } from "../../test/runtime";
import { marketOf } from "../stores/market";
import { ShopSection } from "./ShopSection";

const push = vi.hoisted(() => vi.fn());
vi.mock("expo-router", () => ({ router: { push } }));

let grover: Grover;
let me = "";

beforeAll(async () => {
  grover = await runningGrover();
  me = grover.session.getState().user?.id ?? "";
});

afterEach(() => {
  cleanup();
  push.mockClear();
});

afterAll(() => stopRunningGrover(grover));

test("someone else's shop: cards with title and price, each to its page", async () => {
  const { c } = await signedUp();
  const product = await c.send("product.create", {
    client_key: "k1",
    title: "Signed print",
    price: 1250,
    currency: "USD",
    stock: 3,
  });
  const sellerId = product.seller.id;
  render(<ShopSection sellerId={sellerId} />);
  const card = await screen.findByTestId(`shop-product-${product.id}`);
  expect(card.textContent).toContain("Signed print");
  expect(card.textContent).toContain("$12.50");
  expect(screen.queryByTestId("shop-add")).toBeNull();
  fireEvent.click(card);
  expect(push).toHaveBeenCalledWith(`/product/${product.id}`);
  c.close();
});

test("someone else's empty shop shows nothing", async () => {
  const { c, auth } = await signedUp();
  const { container } = render(<ShopSection sellerId={auth.user.id} />);
  // Wait until the shop was fetched, then check nothing was drawn.
  await vi.waitFor(() => expect(grover.part(marketOf).getState().shops[auth.user.id]?.loaded).toBe(true));
  expect(container.innerHTML).toBe("");
  c.close();
});

test("my own empty shop offers Add product", async () => {
  render(<ShopSection sellerId={me} />);
  fireEvent.click(await screen.findByTestId("shop-add"));
  expect(push).toHaveBeenCalledWith("/product/new");
  expect(await screen.findByText(/Sell prints, presets/)).toBeTruthy();
});
