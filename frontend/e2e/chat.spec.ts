/**
 * Messaging between two people, each in a browser of their own: a direct
 * chat started by username with typing, the unread badge and "Seen"; then a
 * dropped connection (Playwright proxies the app's websocket and cuts it as
 * a lost network would) survived without losing or repeating a message.
 */
import { type Page, type WebSocketRoute, expect, test } from "@playwright/test";

import { screenshot, signUp } from "./app";

/** Messages → New → find `username` → their direct chat; returns its id. */
async function startDirectChat(page: Page, username: string): Promise<string> {
  await page.getByTestId("tab-messages").click();
  await page.getByTestId("new-conversation").click();
  await page.getByTestId("user-search").fill(username);
  await page.getByTestId(`user-result-${username}`).click();
  await expect(page).toHaveURL(/\/conversation\/[0-9a-f]+$/);
  return new URL(page.url()).pathname.split("/").at(-1) ?? "";
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("send").click();
}

/** The message bubbles whose text is exactly `text`. */
function bubbles(page: Page, text: string) {
  const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  return page.getByTestId("message-text").filter({ hasText: exact });
}

test("a direct chat: typing, the unread badge, the message, and Seen", async ({ browser }) => {
  const anna = await signUp(browser, "anna");
  const ben = await signUp(browser, "ben");
  await ben.page.getByTestId("tab-messages").click();
  await expect(ben.page.getByTestId("messages-screen").getByTestId("state-empty")).toBeVisible();

  const id = await startDirectChat(anna.page, ben.username);
  await expect(anna.page.getByTestId("conversation-screen").getByTestId("state-empty")).toContainText(
    "No messages yet",
  );
  // Ben's list learns of the new conversation live, named after Anna.
  const row = ben.page.getByTestId(`conversation-${id}`);
  await expect(row).toBeVisible();
  await expect(row.getByTestId("conversation-name")).toHaveText(anna.username);

  await anna.page.getByTestId("composer").fill("hel");
  await expect(ben.page.getByTestId(`typing-${id}`)).toBeVisible();
  await anna.page.getByTestId("composer").fill("hello");
  await anna.page.getByTestId("send").click();
  await expect(bubbles(anna.page, "hello")).toHaveCount(1);
  await expect(anna.page.getByTestId("sending")).toHaveCount(0);

  // Unread at Ben's: on the row and on the tab.
  await expect(ben.page.getByTestId(`typing-${id}`)).toHaveCount(0);
  await expect(ben.page.getByTestId(`unread-${id}`)).toHaveText("1");
  await expect(ben.page.getByTestId("tab-messages")).toContainText("1");
  await expect(row).toContainText("hello");
  await screenshot(ben.page, "messages-list");
  await expect(anna.page.getByTestId("seen")).toHaveCount(0);

  await row.click();
  await expect(bubbles(ben.page, "hello")).toHaveCount(1);
  // Read while open: Anna sees it, and Ben's count is gone.
  await expect(anna.page.getByTestId("seen")).toHaveText("Seen");
  await ben.page.getByTestId("composer").fill("hey! how");
  await expect(anna.page.getByTestId("typing")).toHaveText(`${ben.username} is typing…`);
  await ben.page.getByTestId("composer").fill("hey! how are you?");
  await ben.page.getByTestId("send").click();
  await expect(bubbles(anna.page, "hey! how are you?")).toHaveCount(1);
  await expect(anna.page.getByTestId("typing")).toHaveCount(0); // ended by the message
  await send(anna.page, "great, and you?");
  await ben.page.getByTestId("composer").fill("all good");
  await expect(anna.page.getByTestId("seen")).toHaveText("Seen");
  await expect(anna.page.getByTestId("typing")).toBeVisible();
  await screenshot(anna.page, "conversation");
  await ben.page.goBack();
  await expect(row).toBeVisible();
  await expect(ben.page.getByTestId(`unread-${id}`)).toHaveCount(0);
  // Ben stopped typing without sending: the notice goes away by itself.
  await expect(anna.page.getByTestId("typing")).toHaveCount(0, { timeout: 10_000 });
});

test("a dropped connection loses nothing and repeats nothing", async ({ browser }) => {
  const anna = await signUp(browser, "anna");
  const ben = await signUp(browser, "ben");

  // Ben's socket goes through Playwright from here on: it can be cut, and
  // kept down (new connections refused) until `offline` is false again.
  let current: WebSocketRoute | null = null;
  let offline = false;
  await ben.page.routeWebSocket(/.*/, async (ws) => {
    if (offline) {
      await ws.close({ code: 4000, reason: "offline" });
      return;
    }
    current = ws;
    ws.connectToServer();
  });
  await ben.page.reload(); // the app connects again, now through the route
  await expect(ben.page.getByTestId("tab-home")).toBeVisible();

  const id = await startDirectChat(anna.page, ben.username);
  await send(anna.page, "before the drop");
  await ben.page.getByTestId("tab-messages").click();
  await ben.page.getByTestId(`conversation-${id}`).click();
  await expect(bubbles(ben.page, "before the drop")).toHaveCount(1);
  expect(current).not.toBeNull();

  offline = true;
  await (current as WebSocketRoute | null)?.close({ code: 4000, reason: "network lost" });
  await expect(ben.page.getByTestId("connection-banner")).toBeVisible();

  const annas = ["while away 1", "while away 2", "while away 3"];
  for (const text of annas) await send(anna.page, text);
  await expect(anna.page.getByTestId("sending")).toHaveCount(0); // all on the server
  await send(ben.page, "sent offline");
  await expect(ben.page.getByTestId("sending")).toBeVisible();

  offline = false; // the next reconnection attempt gets through and resumes
  await expect(ben.page.getByTestId("connection-banner")).toHaveCount(0, { timeout: 20_000 });
  await expect(ben.page.getByTestId("sending")).toHaveCount(0);
  const expected = ["before the drop", ...annas, "sent offline"];
  for (const page of [ben.page, anna.page]) {
    for (const text of expected) await expect(bubbles(page, text)).toHaveCount(1);
    await expect(page.getByTestId("message-text")).toHaveText(expected);
  }
});

test("a group: several people picked and a name, then everyone's messages with who sent them", async ({ browser }) => {
  const anna = await signUp(browser, "anna");
  const ben = await signUp(browser, "ben");
  const cara = await signUp(browser, "cara");
  const page = anna.page;
  await page.getByTestId("tab-messages").click();
  await page.getByTestId("new-conversation").click();
  await page.getByTestId("mode-group").click();
  await page.getByTestId("group-name").fill("Weekend trip");
  await expect(page.getByTestId("create-group")).toBeDisabled();
  for (const username of [ben.username, cara.username]) {
    await page.getByTestId("user-search").fill(username);
    await page.getByTestId(`user-result-${username}`).click();
    await expect(page.getByTestId(`selected-${username}`)).toBeVisible();
  }
  await page.getByTestId("create-group").click();
  await expect(page).toHaveURL(/\/conversation\/[0-9a-f]+$/);
  const id = new URL(page.url()).pathname.split("/").at(-1) ?? "";
  await send(page, "who's driving?");

  await cara.page.getByTestId("tab-messages").click();
  const row = cara.page.getByTestId(`conversation-${id}`);
  await expect(row.getByTestId("conversation-name")).toHaveText("Weekend trip");
  await expect(cara.page.getByTestId(`unread-${id}`)).toHaveText("1");
  await row.click();
  await expect(cara.page.getByTestId("message-sender")).toHaveText(anna.username);
  await send(cara.page, "I can!");
  await expect(bubbles(page, "I can!")).toHaveCount(1);
  await expect(page.getByTestId("message-sender")).toHaveText(cara.username);
  await expect(page.getByTestId("seen")).toHaveText(`Seen by ${cara.username}`);
});
