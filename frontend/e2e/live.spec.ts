import { expect, test } from "@playwright/test";

import { screenshot, signUp } from "./app";

test("go live, a viewer watches and chats both ways, the end reaches the viewer", async ({ browser }) => {
  const host = await signUp(browser, "host");
  await host.page.goto("/live/host");
  await host.page.getByTestId("live-title").fill("Glazing a teapot");
  await host.page.getByTestId("go-live").click();
  const link = host.page.getByTestId("stream-link");
  await expect(link).toContainText("/live/");
  const id = /\/live\/(\S+)/.exec((await link.textContent()) ?? "")?.[1];
  expect(id).toBeTruthy();
  await expect(host.page.getByTestId("viewer-count")).toHaveText("0 watching");

  const viewer = await signUp(browser, "viewer");
  // Home's "Live now" strip lists it; a tap opens it.
  await viewer.page.getByTestId(`live-now-${id}`).click();
  await expect(viewer.page).toHaveURL(new RegExp(`/live/${id}$`));
  await expect(viewer.page.getByTestId("stream-title")).toHaveText("Glazing a teapot");
  await expect(viewer.page.getByTestId("stream-host")).toContainText(host.username);
  // No Agora credentials on this server, and no video on the web: the state panel.
  await expect(viewer.page.getByTestId("live-video-note")).toContainText("web shows the stream's state only");
  await expect(viewer.page.getByTestId("live-stage")).toContainText("is live");
  await expect(host.page.getByTestId("viewer-count")).toHaveText("1 watching");

  await viewer.page.getByTestId("live-chat-input").fill("hi from B");
  await viewer.page.getByTestId("live-chat-send").click();
  await expect(host.page.getByTestId("live-chat-line").filter({ hasText: "hi from B" })).toBeVisible();

  await host.page.getByTestId("live-chat-input").fill("welcome, glad you came!");
  await host.page.getByTestId("live-chat-input").press("Enter");
  await expect(viewer.page.getByTestId("live-chat-line").filter({ hasText: "welcome, glad you came!" })).toBeVisible();
  // Each line once at its sender too (the ack and the chat event are one line).
  await expect(viewer.page.getByTestId("live-chat-line")).toHaveCount(2);
  await expect(host.page.getByTestId("live-chat-line")).toHaveCount(2);
  await screenshot(host.page, "live-host");
  await screenshot(viewer.page, "live-viewer");

  await host.page.getByTestId("end-stream").click();
  await expect(host.page.getByTestId("host-ended")).toBeVisible();
  await expect(viewer.page.getByTestId("stream-ended")).toContainText("This stream has ended");
  await expect(viewer.page.getByTestId("live-chat-input")).toHaveCount(0);
});

test("a stream that does not exist says so", async ({ browser }) => {
  const someone = await signUp(browser, "lost");
  await someone.page.goto("/live/no-such-stream");
  await expect(someone.page.getByTestId("state-error")).toContainText("That no longer exists.");
});
