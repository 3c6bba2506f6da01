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
  // Images fade in (expo-image's transition): let them finish for the picture.
  await page.waitForTimeout(600);
  await page.screenshot({ path: join(folder, `${name}.png`) });
}

/** A real PNG drawn in the page (a sunset), so the upload is a photo the server decodes. */
export async function samplePhoto(page: Page): Promise<Buffer> {
  const dataUrl = await page.evaluate(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 480;
    canvas.height = 360;
    const g = canvas.getContext("2d")!;
    const sky = g.createLinearGradient(0, 0, 0, 360);
    sky.addColorStop(0, "#ffb36b");
    sky.addColorStop(0.55, "#ff5e7e");
    sky.addColorStop(1, "#5b4cf0");
    g.fillStyle = sky;
    g.fillRect(0, 0, 480, 360);
    g.fillStyle = "#ffe08a";
    g.beginPath();
    g.arc(250, 235, 64, 0, Math.PI * 2);
    g.fill();
    g.fillStyle = "#2d1b69";
    g.beginPath();
    g.moveTo(0, 290);
    g.quadraticCurveTo(130, 230, 270, 285);
    g.quadraticCurveTo(390, 330, 480, 262);
    g.lineTo(480, 360);
    g.lineTo(0, 360);
    g.fill();
    return canvas.toDataURL("image/png");
  });
  return Buffer.from(dataUrl.split(",")[1]!, "base64");
}
