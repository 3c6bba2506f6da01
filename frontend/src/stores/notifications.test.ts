/**
 * The notifications store on real clients of a real Grover: the badge is
 * right as soon as someone logs in, a follow arrives live and raises it,
 * reading one or all clears it (also when another device reads them), an
 * unfollow takes the row back, pages, and the mute settings.
 */
import { describe, expect, test } from "vitest";

import { client, closedAfterEach, uniqueName, until } from "../../test/helpers";
import { createNotificationsStore, hrefOf } from "./notifications";
import { createSessionStore, memoryTokenStorage } from "./session";

const clients = closedAfterEach();
const user = clients.user;

describe("notifications store", () => {
  test("the badge is right right after login, with what arrived while away", async () => {
    const name = uniqueName();
    const away = client();
    clients.keep(away);
    await away.connect();
    const me = await away.request("auth.register", {
      username: name,
      email: `${name}@example.com`,
      password: "correct horse battery",
    });
    const { c: fan } = await user();
    await fan.request("follow.create", { user_id: me.user.id });

    const c = client();
    clients.keep(c);
    const session = createSessionStore(c, memoryTokenStorage());
    await session.getState().start();
    // Made before anyone logs in (as a screen might be): it waits for the login.
    const inbox = createNotificationsStore(c, session);
    inbox.getState().start();
    expect(inbox.getState().status).toBe("idle");
    await session.getState().login(name, "correct horse battery");
    await until(() => inbox.getState().status === "ready");
    expect(inbox.getState().unread).toBe(1);
    expect(inbox.getState().items.map((n) => n.kind)).toEqual(["follow"]);
  });

  test("a follow arrives live and raises the badge; reading it clears it", async () => {
    const { c, auth } = await user();
    const { c: fan, auth: fanAuth } = await user();
    const inbox = createNotificationsStore(c);
    inbox.getState().start();
    await until(() => inbox.getState().status === "ready");
    expect(inbox.getState().unread).toBe(0);
    expect(inbox.getState().items).toEqual([]);

    await fan.request("follow.create", { user_id: auth.user.id });
    await until(() => inbox.getState().unread === 1);
    const [row] = inbox.getState().items;
    expect(row?.kind).toBe("follow");
    expect(row?.read).toBe(false);
    expect(row?.actors.map((a) => a.username)).toEqual([fanAuth.user.username]);
    expect(row && hrefOf(row)).toBe(`/user/${fanAuth.user.id}`);

    await inbox.getState().markRead(row?.id ?? "");
    expect(inbox.getState().unread).toBe(0);
    expect(inbox.getState().items[0]?.read).toBe(true);
    const fresh = await c.request("notification.list", {}); // and the server agrees
    expect(fresh.unread).toBe(0);
    expect(fresh.notifications[0]?.read).toBe(true);
  });

  test("likes group into one row that moves to the top; mark all read", async () => {
    const { c, auth } = await user();
    const post = await c.request("post.create", { client_key: uniqueName(), text: "my first post" });
    const { c: one, auth: oneAuth } = await user();
    const { c: two, auth: twoAuth } = await user();
    const inbox = createNotificationsStore(c);
    inbox.getState().start();
    await until(() => inbox.getState().status === "ready");

    await one.request("post.like", { post_id: post.id });
    await one.request("follow.create", { user_id: auth.user.id });
    await until(() => inbox.getState().unread === 2);
    expect(inbox.getState().items.map((n) => n.kind)).toEqual(["follow", "like_post"]);
    await two.request("post.like", { post_id: post.id });
    await until(() => inbox.getState().items[0]?.actor_count === 2);
    const [likes] = inbox.getState().items;
    expect(likes?.kind).toBe("like_post");
    expect(likes && hrefOf(likes)).toBe(`/post/${post.id}`);
    expect(likes?.actors.map((a) => a.id)).toEqual([twoAuth.user.id, oneAuth.user.id]);
    expect(inbox.getState().items).toHaveLength(2);
    expect(inbox.getState().unread).toBe(2);

    await inbox.getState().markAllRead();
    expect(inbox.getState().unread).toBe(0);
    expect(inbox.getState().items.every((n) => n.read)).toBe(true);
  });

  test("read on another device: the badge and the rows follow; an unfollow takes the row back", async () => {
    const { c, auth } = await user();
    const other = client(c.token);
    clients.keep(other);
    await other.connect();
    const { c: fan } = await user();
    const inbox = createNotificationsStore(c);
    inbox.getState().start();
    await until(() => inbox.getState().status === "ready");

    await fan.request("follow.create", { user_id: auth.user.id });
    await until(() => inbox.getState().unread === 1);
    await other.request("notification.mark_read", {});
    await until(() => inbox.getState().unread === 0);
    expect(inbox.getState().items[0]?.read).toBe(true);

    await fan.request("follow.delete", { user_id: auth.user.id });
    await fan.request("follow.create", { user_id: auth.user.id });
    await until(() => inbox.getState().unread === 1);
    expect(inbox.getState().items.map((n) => n.read)).toEqual([false, true]);
    await fan.request("follow.delete", { user_id: auth.user.id });
    await until(() => inbox.getState().items.length === 1);
    expect(inbox.getState().unread).toBe(0);
    expect(inbox.getState().items[0]?.read).toBe(true);
  });

  test("pages down without repeating a row", async () => {
    const { c } = await user();
    const { c: fan } = await user();
    // Likes of three posts: three rows (likes of one post would group into one).
    for (let i = 0; i < 3; i += 1) {
      const post = await c.request("post.create", { client_key: uniqueName(), text: `post ${i}` });
      await fan.request("post.like", { post_id: post.id });
    }
    // Read on a session that opens once all three are in, so that none comes live.
    const deadline = Date.now() + 5_000;
    while ((await c.request("notification.list", {})).unread < 3) {
      if (Date.now() > deadline) throw new Error("the likes were not notified in time");
      await new Promise((r) => setTimeout(r, 20));
    }
    const reader = client(c.token);
    clients.keep(reader);
    await reader.connect();
    const inbox = createNotificationsStore(reader, undefined, 2);
    inbox.getState().start();
    await until(() => inbox.getState().status === "ready");
    expect(inbox.getState().items).toHaveLength(2);
    expect(inbox.getState().unread).toBe(3);
    while (inbox.getState().nextCursor !== null) await inbox.getState().loadMore();
    const ids = inbox.getState().items.map((n) => n.id);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
  });

  test("muting a kind is kept by the server and stops that kind", async () => {
    const { c, auth } = await user();
    const inbox = createNotificationsStore(c);
    inbox.getState().start();
    await inbox.getState().loadSettings();
    expect(inbox.getState().muted).toEqual([]);
    await inbox.getState().setMuted("follow", true);
    await inbox.getState().setMuted("like_post", true);
    await inbox.getState().setMuted("like_post", false);
    expect(inbox.getState().muted).toEqual(["follow"]);
    expect((await c.request("notification.get_settings", {})).muted).toEqual(["follow"]);

    const { c: fan } = await user();
    await fan.request("follow.create", { user_id: auth.user.id });
    const post = await c.request("post.create", { client_key: uniqueName(), text: "still notified of likes" });
    await fan.request("post.like", { post_id: post.id });
    // The like arrives; the follow before it was never stored.
    await until(() => inbox.getState().unread === 1);
    expect(inbox.getState().items.map((n) => n.kind)).toEqual(["like_post"]);
  });
});
