/**
 * Paying an order on PayPal's own page: open its `approval_url` in an auth
 * session (a popup on web, the system's browser sheet on native) and wait
 * for PayPal to send the buyer back to the return URL, then capture.
 *
 * On web the popup lands on the app's `/paypal/return`, whose screen calls
 * `WebBrowser.maybeCompleteAuthSession()`: that posts the popup's URL to this
 * window, which closes the popup and resolves the session with it.
 */
import * as WebBrowser from "expo-web-browser";
import { Platform } from "react-native";

import type { OrderView } from "../protocol/types";
import type { AppConfig } from "../runtime/grover";
import type { MarketStore } from "../stores/market";

/**
 * Where PayPal sends the buyer back: the server's `checkout_return_url`
 * (from /app/config.json; by default the native app's `grover://paypal/return`).
 * On web it is the app's own `/paypal/return`, which the server serving the
 * web app must be configured with.
 */
export function checkoutReturnUrl(config: AppConfig): string {
  if (Platform.OS === "web" && typeof window !== "undefined") return `${window.location.origin}/paypal/return`;
  return config.checkout_return_url;
}

/** PayPal's redirect says which button the buyer pressed: its cancel URL has `cancelled=1`. */
export function approvalOutcome(url: string): "approved" | "cancelled" {
  const query = url.includes("?") ? url.slice(url.indexOf("?") + 1).split("#")[0] ?? "" : "";
  return new URLSearchParams(query).get("cancelled") === "1" ? "cancelled" : "approved";
}

/**
 * - `captured`: approved and captured (the order is `paid`, or still
 *   `approved` while PayPal holds the capture as pending);
 * - `cancelled`: the buyer pressed cancel on PayPal's page;
 * - `closed`: the window was closed before PayPal sent the buyer back.
 */
export type PayOutcome = "captured" | "cancelled" | "closed";

/** Thrown on web when the browser blocked the popup. */
export function isPopupBlocked(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === "ERR_WEB_BROWSER_BLOCKED";
}

/**
 * Run the buyer through PayPal for `order`. Call it straight from the press
 * handler: a browser opens the popup only in answer to the person's tap.
 */
export async function payWithPayPal(
  market: MarketStore,
  order: OrderView,
  config: AppConfig,
): Promise<PayOutcome> {
  if (order.approval_url === null) throw new Error("the order has no PayPal checkout open");
  const result = await WebBrowser.openAuthSessionAsync(order.approval_url, checkoutReturnUrl(config));
  if (result.type === "success") {
    if (approvalOutcome(result.url) === "cancelled") return "cancelled";
    await market.getState().capture(order.id);
    return "captured";
  }
  // Closed early. PayPal's webhook may still have told the server the buyer
  // approved; capture only then (capturing an unapproved order would fail,
  // and PayPal would replay that failure to the same request later).
  const now = await market.getState().loadOrder(order.id);
  if (now.state !== "approved") return "closed";
  await market.getState().capture(order.id);
  return "captured";
}
