/**
 * The chat store's live parts on real clients of a real Grover: typing
 * notices that are throttled and expire, read receipts ("Seen"), unread
 * counts that grow live and stay at zero in the conversation on screen,
 * direct conversations opened once per pair, groups, members removed, edits
 * and deletes, and sends that survive a dropped socket, delivered once.
 */
import { afterEach, describe, expect, test } from "vitest";

import { client, signedUp, until } from "../../test/helpers";
import type { GroverClient } from "../protocol/client";
import type { ServerEvent } from "../protocol/types";
import { conversationName, createChatStore, seenBy, typingIn, unreadTotal } from "./chat";

const opened: GroverClient[] = [];

afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

/** A signed-up user with a chat store on their client. */
async function person(options: Parameters<typeof createChatStore>[3] = {}) {
  const { c, auth } = await signedUp();
  opened.push(c);
  const chat = createChatStore(c, () => auth.user.id, undefined, options);
  const events: ServerEvent[] = [];
  c.onEvent((event) => events.push(event));
  return { c, chat, user: auth.user, events };
}

function unreadOf(chat: ReturnType<typeof createChatStore>, id: string): number | undefined {
  return chat.getState().summaries.find((s) => s.id === id)?.unread;
}

describe("typing", () => {
  test("notices are throttled, shown at the others, and go away by themselves", async () => {
    const a = await person({ typingEveryMs: 10_000 });
    const b = await person({ typingTtlMs: 300 });
    const id = await a.chat.getState().openDirect(b.user.id);
    for (let i = 0; i < 5; i += 1) a.chat.getState().typed(id);
    await until(() => typingIn(b.chat.getState(), id).includes(a.user.id));
    expect(typingIn(a.chat.getState(), id)).toEqual([]); // not at the one typing
    // Gone without anything else happening, from the state itself (screens re-render).
    await until(() => Object.keys(b.chat.getState().typing[id] ?? {}).length === 0, 2_000);
    expect(typingIn(b.chat.getState(), id)).toEqual([]);
    // Five keystrokes, one notice.
    await a.c.request("ping", {});
    expect(b.events.filter((e) => e.type === "typing.started")).toHaveLength(1);
  });

  test("a message from the one typing ends their notice at once", async () => {
    const a = await person({ typingEveryMs: 0 });
    const b = await person({ typingTtlMs: 60_000 });
    const id = await a.chat.getState().openDirect(b.user.id);
    a.chat.getState().typed(id);
    await until(() => typingIn(b.chat.getState(), id).length === 1);
    await a.chat.getState().send(id, "done typing");
    await until(() => (b.chat.getState().messages[id]?.length ?? 0) === 1);
    expect(typingIn(b.chat.getState(), id)).toEqual([]);
  });
});

describe("read receipts", () => {
  test("my last message is seen once the other member reads it", async () => {
    const a = await person();
    const b = await person();
    const id = await a.chat.getState().openDirect(b.user.id);
    await a.chat.getState().send(id, "are you there?");
    expect(seenBy(a.chat.getState(), id, a.user.id)).toEqual([]);

    await b.chat.getState().load(id);
    await b.chat.getState().markRead(id);
    await until(() => seenBy(a.chat.getState(), id, a.user.id).length === 1);
    expect(seenBy(a.chat.getState(), id, a.user.id)).toEqual([b.user.id]);

    // A newer message of mine is not seen yet.
    await a.chat.getState().send(id, "hello?");
    expect(seenBy(a.chat.getState(), id, a.user.id)).toEqual([]);

    // Another session learns the read positions from the conversation's details.
    const again = createChatStore(a.c, () => a.user.id);
    await again.getState().load(id);
    await again.getState().loadDetails(id);
    expect(again.getState().reads[id]?.[b.user.id]).toBe(1);
    expect(seenBy(again.getState(), id, a.user.id)).toEqual([]);
  });
});

describe("unread counts", () => {
  test("grow live, stay at zero in the conversation on screen, and the server agrees", async () => {
    const a = await person();
    const b = await person();
    const id = await a.chat.getState().openDirect(b.user.id);
    await b.chat.getState().refresh();
    expect(unreadOf(b.chat, id)).toBe(0);

    await a.chat.getState().send(id, "one");
    await a.chat.getState().send(id, "two");
    await until(() => unreadOf(b.chat, id) === 2);
    expect(unreadTotal(b.chat.getState())).toBe(2);
    expect(b.chat.getState().summaries[0]?.last_preview).toBe("two");

    // Opened: marked read, and new messages are read as they come.
    b.chat.getState().view(id);
    await b.chat.getState().load(id);
    await until(() => unreadOf(b.chat, id) === 0);
    await a.chat.getState().send(id, "three");
    await until(() => (b.chat.getState().messages[id]?.length ?? 0) === 3);
    expect(unreadOf(b.chat, id)).toBe(0);
    await until(() => b.chat.getState().reads[id]?.[b.user.id] === 3);
    await b.chat.getState().refresh();
    expect(unreadOf(b.chat, id)).toBe(0);

    // Closed again: counting again.
    b.chat.getState().view(null);
    await a.chat.getState().send(id, "four");
    await until(() => unreadOf(b.chat, id) === 1);
  });

  test("read in another of my sessions: the count here goes to zero too", async () => {
    const a = await person();
    const b = await person();
    const id = await a.chat.getState().openDirect(b.user.id);
    await b.chat.getState().refresh();
    await a.chat.getState().send(id, "ping");
    await until(() => unreadOf(b.chat, id) === 1);
    const phone = client(b.c.token);
    opened.push(phone);
    await phone.connect();
    const onPhone = createChatStore(phone, () => b.user.id);
    await onPhone.getState().load(id);
    await onPhone.getState().markRead(id);
    await until(() => unreadOf(b.chat, id) === 0);
    expect(b.chat.getState().summaries.find((s) => s.id === id)?.read_seq).toBe(1);
  });

  test("a page of history is not news: loading it leaves the counts", async () => {
    const a = await person();
    const b = await person();
    const id = await a.chat.getState().openDirect(b.user.id);
    for (const text of ["x", "y"]) await a.chat.getState().send(id, text);
    // A session of B's that starts afterwards: it knows the messages only from pages.
    const later = client(b.c.token);
    opened.push(later);
    await later.connect();
    const chat = createChatStore(later, () => b.user.id);
    await chat.getState().refresh();
    expect(unreadOf(chat, id)).toBe(2);
    await chat.getState().load(id);
    expect(chat.getState().messages[id]?.map((m) => m.text)).toEqual(["x", "y"]);
    expect(unreadOf(chat, id)).toBe(2);
    expect(chat.getState().summaries.find((s) => s.id === id)?.last_preview).toBe("y");
  });
});

describe("conversations", () => {
  test("openDirect gives one conversation per pair, whoever opens it and however often", async () => {
    const a = await person();
    const b = await person();
    await b.chat.getState().refresh();
    const first = await a.chat.getState().openDirect(b.user.id);
    const second = await a.chat.getState().openDirect(b.user.id);
    const theirs = await b.chat.getState().openDirect(a.user.id);
    expect(second).toBe(first);
    expect(theirs).toBe(first);
    expect(a.chat.getState().summaries.filter((s) => s.id === first)).toHaveLength(1);
    expect(b.chat.getState().summaries.filter((s) => s.id === first)).toHaveLength(1);
    // Named after the other member, on both sides.
    await until(() => conversationName(a.chat.getState(), first, a.user.id) === b.user.display_name || conversationName(a.chat.getState(), first, a.user.id) === b.user.username);
    await until(() => conversationName(b.chat.getState(), first, b.user.id) !== "Direct chat");
    expect([a.user.display_name, a.user.username]).toContain(conversationName(b.chat.getState(), first, b.user.id));
    await expect(a.chat.getState().openDirect(a.user.id)).rejects.toThrow(/invalid_field/);
  });

  test("a group reaches its members live, with its name, messages and member changes", async () => {
    const a = await person();
    const b = await person();
    const c = await person();
    await c.chat.getState().refresh();
    const id = await a.chat.getState().createGroup("  Weekend trip ", [b.user.id, c.user.id]);
    expect(a.chat.getState().details[id]?.members).toHaveLength(3);
    expect(conversationName(a.chat.getState(), id, a.user.id)).toBe("Weekend trip");
    // Announced to the members: a row appears without a refetch.
    await until(() => c.chat.getState().summaries.some((s) => s.id === id));
    expect(conversationName(c.chat.getState(), id, c.user.id)).toBe("Weekend trip");
    await until(() => Object.keys(c.chat.getState().people).length === 3);

    await a.chat.getState().send(id, "who's driving?");
    await until(() => unreadOf(c.chat, id) === 1);
    expect(c.chat.getState().summaries.find((s) => s.id === id)?.last_sender_id).toBe(a.user.id);

    await a.c.request("conversation.remove_member", { conversation_id: id, user_id: c.user.id });
    await until(() => !c.chat.getState().summaries.some((s) => s.id === id));
    expect(c.chat.getState().messages[id]).toBeUndefined();
    await until(() => a.chat.getState().details[id]?.members.length === 2);
  });

  test("edits and deletes change the message they name, live", async () => {
    const a = await person();
    const b = await person();
    const id = await a.chat.getState().openDirect(b.user.id);
    await b.chat.getState().refresh();
    await a.chat.getState().send(id, "helo");
    await a.chat.getState().send(id, "oops");
    await until(() => unreadOf(b.chat, id) === 2);
    await b.chat.getState().load(id);
    await a.c.request("message.edit", { conversation_id: id, seq: 1, text: "hello" });
    await a.c.request("message.delete", { conversation_id: id, seq: 2 });
    await until(() => b.chat.getState().messages[id]?.[1]?.deleted === true);
    expect(b.chat.getState().messages[id]?.map((m) => m.text)).toEqual(["hello", ""]);
    expect(b.chat.getState().messages[id]?.[0]?.edited_at).not.toBeNull();
    expect(unreadOf(b.chat, id)).toBe(1);
  });
});

describe("sends across a dropped socket", () => {
  test("a message sent while dropped is delivered once after the reconnect, and so are the ones missed", async () => {
    const a = await person();
    const b = await person();
    const id = await a.chat.getState().openDirect(b.user.id);
    await b.chat.getState().load(id);
    b.c.drop();
    expect(b.c.state).toBe("reconnecting");
    const offline = b.chat.getState().send(id, "sent while offline");
    expect(b.chat.getState().pending[id]?.map((p) => p.text)).toEqual(["sent while offline"]);
    for (const text of ["m1", "m2", "m3"]) await a.chat.getState().send(id, text);

    await offline;
    await until(() => (b.chat.getState().messages[id]?.length ?? 0) === 4);
    await until(() => (a.chat.getState().messages[id]?.length ?? 0) === 4);
    const texts = (chat: typeof a.chat) => chat.getState().messages[id]?.map((m) => m.text);
    expect(texts(b.chat)?.filter((t) => t.startsWith("m"))).toEqual(["m1", "m2", "m3"]);
    expect(texts(b.chat)?.filter((t) => t === "sent while offline")).toHaveLength(1);
    expect(texts(a.chat)?.filter((t) => t === "sent while offline")).toHaveLength(1);
    expect(b.chat.getState().pending[id]).toEqual([]);
    // And once at A's socket: one message.new, however many times it was sent.
    const news = a.events.filter((e) => e.type === "message.new" && e.message.text === "sent while offline");
    expect(news).toHaveLength(1);
    // The server has each once too.
    const history = await a.c.request("message.history", { conversation_id: id });
    expect(history.messages.map((m) => m.text).sort()).toEqual(["m1", "m2", "m3", "sent while offline"]);
  });

  test("a send the server refuses is kept as failed, in words, and can be discarded", async () => {
    const a = await person();
    await expect(a.chat.getState().send("no-such-conversation", "hi")).rejects.toThrow();
    const [failed] = a.chat.getState().pending["no-such-conversation"] ?? [];
    expect(failed?.failed).toBe("That no longer exists.");
    a.chat.getState().discard("no-such-conversation", failed?.clientKey ?? "");
    expect(a.chat.getState().pending["no-such-conversation"]).toEqual([]);
  });
});
