import { expect, test } from "@playwright/test";

import { screenshot, signUp } from "./app";

test("sign up, log out, log back in", async ({ browser }) => {
  const anna = await signUp(browser, "anna");
  const page = anna.page;
  await page.goto("/login");
  // Logged in: the auth screens send you home.
  await expect(page.getByTestId("tab-home")).toBeVisible();
  await page.evaluate(() => localStorage.removeItem("grover.token"));
  await page.goto("/login");
  await screenshot(page, "login");
  await page.getByTestId("login-name").fill(anna.username);
  await page.getByTestId("login-password").fill("wrong password!");
  await page.getByTestId("login-submit").click();
  await expect(page.getByText("That username and password don't match.")).toBeVisible();
  await page.getByTestId("login-password").fill("correct horse battery");
  await page.getByTestId("login-submit").click();
  await expect(page.getByTestId("tab-home")).toBeVisible();
});
