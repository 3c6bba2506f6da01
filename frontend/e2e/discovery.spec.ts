/**
 * Discovery, notifications and settings in the browser: A's #tag trends and
 * B opens its posts from there; B finds A by name and follows them; A's bell counts it, the inbox shows it and marking all
 * read clears the bell; Nearby without, then with, the location permission;
 * the dark theme; and "Log out everywhere" signs out A's other browser too.
 */
import { expect, test } from "@playwright/test";

import { screenshot, signUp, uniqueName } from "./app";

test("find and follow, notified live, dark theme, log out everywhere", async ({ browser }) => {
  const a = await signUp(browser, "ann");
  const b = await signUp(browser, "ben");
  const tag = uniqueName("pier");
  await a.page.getByTestId("tab-create").click();
  await a.page.getByTestId("create-text").fill(`Golden hour at the old pier #${tag}`);
  await a.page.getByTestId("create-submit").click();
  await expect(a.page.getByTestId("home-screen")).toBeVisible();

  // An empty box shows what's trending; a tag there lists its posts.
  await b.page.getByTestId("tab-search").click();
  const search = b.page.getByTestId("search-screen");
  await expect(search.getByText("People to follow")).toBeVisible();
  await search.getByTestId(`trending-tag-${tag}`).click();
  await expect(search.getByTestId("seg-posts")).toHaveAttribute("aria-selected", "true");
  await expect(search.getByTestId("search-input")).toHaveValue(`#${tag}`);
  await expect(search.locator('[data-testid^="search-post-"]', { hasText: "Golden hour at the old pier" })).toBeVisible();
  await screenshot(b.page, "search");

  // B finds A by the start of their name and follows them from the result.
  await search.getByTestId("seg-users").click();
  await search.getByTestId("search-input").fill(a.username.slice(0, -1));
  const result = search.getByTestId(`search-user-${a.username}`);
  await expect(result).toBeVisible();
  await result.getByTestId("user-card-follow").click();
  await expect(result.getByTestId("user-card-follow")).toHaveText("Following");

  // Nearby: refused by the browser, then allowed.
  await search.getByTestId("seg-nearby").click();
  await expect(search.getByTestId("state-error")).toContainText("Nearby needs your location");
  await b.page.context().setGeolocation({ latitude: 48.8566, longitude: 2.3522 });
  await b.page.context().grantPermissions(["geolocation"]);
  await search.getByTestId("state-error").getByRole("button").click();
  await expect(search.getByTestId("state-empty")).toContainText("No posts within 25 km");
  await expect(search.getByTestId("radius-100")).toBeVisible();

  // A's bell counts the follow; the inbox shows who; marking all read clears the bell.
  const home = a.page.getByTestId("home-screen");
  await expect(home.getByTestId("notification-badge")).toHaveText("1");
  await home.getByTestId("notification-bell").click();
  const inbox = a.page.getByTestId("notifications-screen");
  const row = inbox.locator('[data-testid^="notification-"][role="button"]', {
    hasText: `${b.username} started following you`,
  });
  await expect(row).toBeVisible();
  await expect(inbox.getByTestId("notification-summary")).toHaveText("1 unread");
  await expect(inbox.locator('[data-testid^="notification-dot-"]')).toHaveCount(1);
  await screenshot(a.page, "notifications");
  await inbox.getByTestId("mark-all-read").click();
  await expect(inbox.getByTestId("notification-summary")).toHaveText("You're all caught up");
  await expect(inbox.locator('[data-testid^="notification-dot-"]')).toHaveCount(0);
  await expect(a.page.getByTestId("notification-badge")).toHaveCount(0);

  // Dark theme from the settings, kept while A moves around the app.
  await inbox.getByTestId("notification-settings").click();
  const settings = a.page.getByTestId("settings-screen");
  await settings.getByTestId("theme-dark").click();
  await expect(settings.getByTestId("theme-dark")).toHaveAttribute("aria-selected", "true");
  await expect(settings.getByTestId("notify-follow")).toHaveAttribute("aria-checked", "true");
  await screenshot(a.page, "settings-dark");
  await settings.getByTestId("notify-like_comment").click();
  await expect(settings.getByTestId("notify-like_comment")).toHaveAttribute("aria-checked", "false");
  await a.page.goBack();
  await a.page.goBack();
  await a.page.getByTestId("tab-search").click();
  const aSearch = a.page.getByTestId("search-screen");
  await aSearch.getByTestId("search-input").fill(b.username);
  await expect(aSearch.getByTestId(`search-user-${b.username}`)).toContainText("follows you");
  await expect(aSearch).toHaveCSS("background-color", "rgb(14, 16, 20)"); // the dark palette's background
  await screenshot(a.page, "search-dark");

  // A second browser logged in as A; "Log out everywhere" in the first ends both.
  const other = await (await browser.newContext()).newPage();
  await other.goto("/login");
  await other.getByTestId("login-name").fill(a.username);
  await other.getByTestId("login-password").fill("correct horse battery");
  await other.getByTestId("login-submit").click();
  await expect(other.getByTestId("tab-home")).toBeVisible();
  await a.page.goto("/settings");
  // The theme was kept on the device across the reload.
  await expect(a.page.getByTestId("theme-dark")).toHaveAttribute("aria-selected", "true");
  // The muted kind was kept by the server.
  await expect(a.page.getByTestId("notify-like_comment")).toHaveAttribute("aria-checked", "false");
  await expect(a.page.getByTestId("notify-follow")).toHaveAttribute("aria-checked", "true");
  await a.page.getByTestId("logout-everywhere").click();
  await expect(a.page.getByTestId("login-name")).toBeVisible();
  await expect(other.getByTestId("login-name")).toBeVisible();
  expect(await a.page.evaluate(() => localStorage.getItem("grover.token"))).toBeNull();
  expect(await other.evaluate(() => localStorage.getItem("grover.token"))).toBeNull();
});
