/**
 * The social app in two browsers: two people sign up and follow each other
 * through `/user/@name`; one posts a photo (uploaded with a progress bar)
 * and the other sees it arrive on the home feed without reloading, likes
 * it, opens it and comments; the author, on the post's page, sees that
 * comment arrive and replies to it, and the reply shows nested under it on
 * both screens. Screenshots: create-post, home-feed, post-comments, profile.
 */
import { type Locator, type Page, expect, test } from "@playwright/test";

import { samplePhoto, screenshot, signUp } from "./app";

async function follow(page: Page, username: string, label: string): Promise<void> {
  await page.goto(`/user/@${username}`);
  const button = page.getByTestId("follow-button");
  await expect(button).toHaveText(label);
  await expect(page.getByTestId("profile-followers-count")).toHaveText("0");
  await button.click();
  await expect(button).toHaveText("Following");
  await expect(page.getByTestId("profile-followers-count")).toHaveText("1");
}

/** `reply` sits below `parent` and further right: shown nested under it. */
async function expectNested(parent: Locator, reply: Locator): Promise<void> {
  const outer = await parent.getByTestId("comment-body").boundingBox();
  const inner = await reply.getByTestId("comment-body").boundingBox();
  expect(outer).not.toBeNull();
  expect(inner).not.toBeNull();
  expect(inner!.y).toBeGreaterThan(outer!.y);
  expect(inner!.x).toBeGreaterThan(outer!.x + 8);
}

test("follow, a photo post arriving live, comments arriving live, a nested reply", async ({ browser }) => {
  const ann = await signUp(browser, "ann");
  const ben = await signUp(browser, "ben");
  const page = ann.page;

  // A deep link to nobody.
  await page.goto("/user/@nobody_by_this_name");
  await expect(page.getByText("No such user")).toBeVisible();

  await follow(page, ben.username, "Follow");
  await follow(ben.page, ann.username, "Follow back");

  // Ben waits on his home feed, empty so far.
  await ben.page.goto("/");
  await expect(ben.page.getByTestId("home-title")).toBeVisible();
  await expect(ben.page.getByText("Your feed is empty")).toBeVisible();

  // Ann writes a post with a photo.
  await page.goto("/create");
  const chooser = page.waitForEvent("filechooser");
  await page.getByTestId("create-add-photo").click();
  await (await chooser).setFiles({ name: "sunset.png", mimeType: "image/png", buffer: await samplePhoto(page) });
  await expect(page.getByTestId("draft-photo-0")).toBeVisible();
  await expect(page.getByTestId("upload-done-0")).toBeVisible();
  await page.getByTestId("create-text").fill("Sunset from the ridge tonight #golden");
  await expect(page.getByTestId("create-submit")).toBeEnabled();
  await screenshot(page, "create-post");
  await page.getByTestId("create-submit").click();
  const annCard = page.getByTestId("post-card").filter({ hasText: "Sunset from the ridge" });
  await expect(annCard).toBeVisible(); // on her home feed, from the reply
  await expect(annCard.getByTestId("post-photo-0")).toBeVisible();

  // It arrives at Ben's feed live: no reload.
  const benCard = ben.page.getByTestId("post-card").filter({ hasText: "Sunset from the ridge" });
  await expect(benCard).toBeVisible();
  await expect(benCard.getByTestId("post-photo-0")).toBeVisible();
  await expect(benCard.getByTestId("post-author")).toContainText(ann.username);
  await benCard.getByTestId("post-like").click();
  await expect(benCard.getByTestId("post-like-count")).toHaveText("1");
  // Ann's card on screen is watched: the like shows there live.
  await expect(annCard.getByTestId("post-like-count")).toHaveText("1");
  await screenshot(ben.page, "home-feed");

  // Ann opens her post; Ben opens it too and comments.
  await annCard.getByTestId("post-comments").click();
  await expect(page.getByTestId("comments-empty")).toBeVisible();
  await benCard.getByTestId("post-comments").click();
  await expect(ben.page.getByTestId("comments-empty")).toBeVisible();
  await ben.page.getByTestId("comment-input").fill("What a view! Where is this?");
  await ben.page.getByTestId("comment-send").click();
  const benComment = ben.page.getByTestId("comment-item").filter({ hasText: "What a view" });
  await expect(benComment).toBeVisible();
  await expect(ben.page.getByTestId("comment-input")).toHaveValue("");

  // Ann sees it arrive, and replies to it.
  const comment = page.getByTestId("comment-item").filter({ hasText: "What a view" });
  await expect(comment).toBeVisible();
  await comment.getByTestId("comment-reply").click();
  await expect(page.getByTestId("replying-to")).toHaveText(`Replying to @${ben.username}`);
  await page.getByTestId("comment-input").fill("Up on the north ridge, just before dark.");
  await page.getByTestId("comment-send").click();
  const reply = page.getByTestId("comment-item").filter({ hasText: "north ridge" });
  await expect(reply).toBeVisible();
  await expect(page.getByTestId("replying-to")).toHaveCount(0);
  await expectNested(comment, reply);

  // Ben sees the reply arrive, nested under his comment; the count follows.
  const benReply = ben.page.getByTestId("comment-item").filter({ hasText: "north ridge" });
  await expect(benReply).toBeVisible();
  await expectNested(benComment, benReply);
  await expect(ben.page.getByTestId("comment-list").getByTestId("post-comment-count")).toHaveText("2");
  await comment.getByTestId("comment-like").click();
  await expect(comment.getByTestId("comment-like")).toContainText("1");
  await screenshot(page, "post-comments");

  // Ann's profile: the counts and her post.
  await page.goto("/profile");
  await expect(page.getByTestId("profile-followers-count")).toHaveText("1");
  await expect(page.getByTestId("profile-following-count")).toHaveText("1");
  await expect(page.getByTestId("profile-posts-count")).toHaveText("1");
  await expect(page.getByTestId("post-card").filter({ hasText: "Sunset from the ridge" })).toBeVisible();
  await screenshot(page, "profile");
});
