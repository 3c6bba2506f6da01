/**
 * What the browser tests share: users made through the app's own sign-up
 * screen, each in a browser context of their own, and screenshots of the
 * main screens (into `SCREENSHOT_DIR` when set: `make screenshots` points it
 * at docs/screenshots for the README).
 */
import { join } from "node:path";

import { type Browser, type Page, expect } from "@playwright/test";

let counter = 0;

/** A name no other test run has used (the Grover is shared by the run). */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter}`.slice(0, 30);
}

export interface User {
  page: Page;
  username: string;
}

/** A new browser context, signed up through the sign-up screen. */
export async function signUp(browser: Browser, prefix: string): Promise<User> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const username = uniqueName(prefix);
  await page.goto("/signup");
  await page.getByTestId("signup-username").fill(username);
  await page.getByTestId("signup-email").fill(`${username}@example.test`);
  await page.getByTestId("signup-password").fill("correct horse battery");
  await page.getByTestId("signup-submit").click();
  await expect(page.getByTestId("tab-home")).toBeVisible();
  return { page, username };
}

/** A screenshot of what `page` shows, when screenshots were asked for. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const folder = process.env.SCREENSHOT_DIR;
  if (!folder) return;
  await page.screenshot({ path: join(folder, `${name}.png`) });
}
