/**
 * The marketplace in the browser against a real Grover and the fake PayPal:
 * a seller lists a product, a buyer opens its shared link, buys, approves on
 * PayPal's page in the popup, and sees the order paid live; the seller sees
 * it among their sales and the stock went down. Also: cancelling on PayPal's
 * page leaves the order payable, cancelling the order frees its stock, and
 * PayPal's return page works logged out.
 */
import { type Page, expect, test } from "@playwright/test";

import { samplePhoto, screenshot, signUp } from "./app";

async function listProduct(
  page: Page,
  title: string,
  tryBadPrice = false,
  withPhoto = false,
): Promise<{ id: string; link: string }> {
  await page.goto("/product/new");
  await page.getByTestId("product-title").fill(title);
  if (tryBadPrice) {
    // Refused on its field, before anything is sent.
    await page.getByTestId("product-price").fill("12.505");
    await page.getByTestId("product-save").click();
    await expect(page.getByText("Use at most 2 decimals, and no thousands separators.")).toBeVisible();
  }
  await page.getByTestId("product-price").fill("12.50");
  await page.getByTestId("product-stock").fill("3");
  if (withPhoto) {
    const chooser = page.waitForEvent("filechooser");
    await page.getByTestId("product-add-photo").click();
    await (await chooser).setFiles({ name: "print.png", mimeType: "image/png", buffer: await samplePhoto(page) });
    await expect(page.getByTestId("product-photo-ready")).toBeVisible();
  }
  await page.getByTestId("product-save").click();
  await expect(page.getByTestId("product-heading")).toHaveText(title);
  await expect(page.getByTestId("product-price-shown")).toHaveText("$12.50");
  await expect(page.getByTestId("product-availability")).toHaveText("3 left");
  if (withPhoto) await expect(page.getByTestId("product-image")).toBeVisible();
  const link = (await page.getByTestId("product-link").textContent()) ?? "";
  const id = /\/product\/([^/?#]+)$/.exec(link)?.[1];
  expect(id, `a product link: ${link}`).toBeTruthy();
  expect(new URL(page.url()).pathname).toBe(`/product/${id}`);
  return { id: id!, link };
}

/** Press pay and get PayPal's popup, recording where it goes. */
async function openPayPal(page: Page): Promise<{ popup: Page; visited: string[] }> {
  const opened = page.waitForEvent("popup");
  await page.getByTestId("pay").click();
  const popup = await opened;
  const visited: string[] = [];
  popup.on("framenavigated", (frame) => {
    if (frame === popup.mainFrame()) visited.push(frame.url());
  });
  await expect(popup.locator("#amount")).toHaveText("12.50 USD");
  return { popup, visited };
}

test("sell, buy through PayPal, paid live on both sides", async ({ browser }) => {
  const seller = await signUp(browser, "seller");
  const product = await listProduct(seller.page, "Signed print", true, true);

  const buyer = await signUp(browser, "buyer");
  const page = buyer.page;
  await page.goto(product.link);
  await expect(page.getByTestId("product-heading")).toHaveText("Signed print");
  await expect(page.getByTestId("buy")).toBeEnabled();
  await screenshot(page, "product");
  await page.getByTestId("buy").click();
  await expect(page).toHaveURL(/\/checkout\/[^/]+$/);
  const orderId = new URL(page.url()).pathname.split("/").pop()!;
  await expect(page.getByTestId("order-state")).toHaveText("created");
  await expect(page.getByTestId("order-amount")).toHaveText("$12.50");

  const { popup, visited } = await openPayPal(page);
  const closed = popup.waitForEvent("close");
  await popup.locator("#approve").click();
  await closed; // the checkout window took PayPal's answer and closed the popup
  expect(visited.some((url) => new URL(url).pathname === "/paypal/return")).toBe(true);
  await expect(page.getByTestId("order-state")).toHaveText("paid");
  await expect(page.getByTestId("pay")).toHaveCount(0);
  await screenshot(page, "checkout-paid");

  const shop = seller.page;
  await shop.goto("/orders");
  await shop.getByTestId("orders-seller").click();
  await expect(shop.getByTestId(`order-state-${orderId}`)).toHaveText("paid");
  await expect(shop.getByTestId(`fulfill-${orderId}`)).toBeVisible();
  await screenshot(shop, "orders");
  await shop.getByTestId(`fulfill-${orderId}`).click();
  await expect(shop.getByTestId(`order-state-${orderId}`)).toHaveText("fulfilled");
  // The buyer's checkout follows live.
  await expect(page.getByTestId("order-state")).toHaveText("fulfilled");

  await shop.goto(`/product/${product.id}`);
  await expect(shop.getByTestId("product-availability")).toHaveText("2 left");

  const violations = await fetch(`${process.env.FAKE_PAYPAL_URL}/_fake/violations`);
  expect(await violations.json()).toEqual([]);
});

test("cancelling on PayPal leaves the order payable; cancelling the order frees its stock", async ({ browser }) => {
  const seller = await signUp(browser, "seller");
  const product = await listProduct(seller.page, "Tote bag");
  const buyer = await signUp(browser, "buyer");
  const page = buyer.page;
  await page.goto(product.link);
  await page.getByTestId("quantity-plus").click();
  await expect(page.getByTestId("quantity")).toHaveText("2");
  await expect(page.getByTestId("product-total")).toHaveText("$25.00");
  await page.getByTestId("quantity-minus").click();
  await page.getByTestId("buy").click();
  await expect(page.getByTestId("order-state")).toHaveText("created");

  const { popup } = await openPayPal(page);
  const closed = popup.waitForEvent("close");
  await popup.locator("#cancel").click();
  await closed;
  await expect(page.getByTestId("pay-outcome")).toContainText("You cancelled on PayPal");
  await expect(page.getByTestId("order-state")).toHaveText("created");
  await expect(page.getByTestId("pay")).toBeEnabled();

  await page.getByTestId("order-cancel").click();
  await expect(page.getByTestId("order-state")).toHaveText("cancelled");
  await seller.page.goto(`/product/${product.id}`);
  await expect(seller.page.getByTestId("product-availability")).toHaveText("3 left");

  // PayPal's return page needs no login (a browser other than the app's).
  const stranger = await browser.newPage();
  await stranger.goto("/paypal/return?token=5O190127TN364715T&PayerID=TESTBUYER01");
  await expect(stranger.getByTestId("paypal-return")).toHaveText("Payment approved — return to Grover");
  await stranger.close();

  const violations = await fetch(`${process.env.FAKE_PAYPAL_URL}/_fake/violations`);
  expect(await violations.json()).toEqual([]);
});
