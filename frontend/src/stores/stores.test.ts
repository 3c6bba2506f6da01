/**
 * The session and chat stores on real clients of a real Grover: log in and
 * out with the token kept in storage, a message sent from one store shows as
 * pending, then once at the other store live, unread counts and read marks,
 * and a refetch after resync.
 */
import { describe, expect, test } from "vitest";

import { client, signedUp, uniqueName, until } from "../../test/helpers";
import type { MessageView } from "../protocol/types";
import { createChatStore, mergeMessage } from "./chat";
import { createSessionStore, memoryTokenStorage } from "./session";

function message(seq: number, text = `m${seq}`): MessageView {
  return {
    conversation_id: "c",
    seq,
    id: `id${seq}`,
    kind: "message",
    sender_id: "s",
    text,
    media_url: "",
    created_at: seq,
    edited_at: null,
    deleted: false,
    target_seq: null,
    client_key: null,
  };
}

describe("mergeMessage", () => {
  test("keeps seq order and each seq once, whatever the arrival order", () => {
    let list: MessageView[] = [];
    for (const seq of [3, 1, 2, 3, 1]) list = mergeMessage(list, message(seq));
    expect(list.map((m) => m.seq)).toEqual([1, 2, 3]);
    list = mergeMessage(list, message(2, "edited"));
    expect(list.map((m) => m.text)).toEqual(["m1", "edited", "m3"]);
  });
});

describe("session store", () => {
  test("register keeps the token; a restart resumes logged in; logout forgets it", async () => {
    const storage = memoryTokenStorage();
    const first = client();
    const session = createSessionStore(first, storage);
    await session.getState().start();
    expect(session.getState().user).toBeNull();
    expect(session.getState().connection).toBe("open");
    const name = uniqueName();
    await session.getState().register(name, `${name}@example.com`, "correct horse battery");
    expect(session.getState().user?.username).toBe(name);
    expect(await storage.get()).not.toBeNull();
    first.close();

    const second = client();
    const restarted = createSessionStore(second, storage);
    await restarted.getState().start();
    expect(restarted.getState().user?.username).toBe(name);
    await restarted.getState().logout();
    expect(restarted.getState().user).toBeNull();
    expect(await storage.get()).toBeNull();
    second.close();
  });

  test("a wrong password leaves the error code for the screen", async () => {
    const session = createSessionStore(client(), memoryTokenStorage());
    await session.getState().start();
    await expect(session.getState().login("nobody-here", "wrong password")).rejects.toThrow();
    expect(session.getState().error).toBe("invalid_credentials");
    expect(session.getState().busy).toBe(false);
  });

  test("my profile edited from another session reaches the session's user", async () => {
    const { c: other, auth } = await signedUp();
    const here = client();
    const session = createSessionStore(here, memoryTokenStorage(auth.token));
    await session.getState().start();
    expect(session.getState().user?.display_name).not.toBe("Ann on the phone");
    await other.request("profile.update", { display_name: "Ann on the phone" });
    await until(() => session.getState().user?.display_name === "Ann on the phone");
    other.close();
    here.close();
  });
});

describe("chat store", () => {
  test("pending, then delivered once; unread at the other side until read", async () => {
    const { c: a, auth: aAuth } = await signedUp();
    const { c: b, auth: bAuth } = await signedUp();
    const conversation = (await a.request("conversation.open_direct", { user_id: bAuth.user.id })).id;
    const chatA = createChatStore(a, () => aAuth.user.id);
    const chatB = createChatStore(b, () => bAuth.user.id);
    await chatB.getState().refresh();
    expect(chatB.getState().summaries.map((s) => s.id)).toContain(conversation);

    const sending = chatA.getState().send(conversation, "hi there");
    expect(chatA.getState().pending[conversation]?.map((p) => p.text)).toEqual(["hi there"]);
    await sending;
    await until(() => (chatB.getState().messages[conversation]?.length ?? 0) === 1);
    await until(() => (chatA.getState().messages[conversation]?.length ?? 0) === 1);
    expect(chatA.getState().pending[conversation]).toEqual([]);
    const unread = () => chatB.getState().summaries.find((s) => s.id === conversation)?.unread;
    expect(unread()).toBe(1);

    // The same message again (a page of history) changes nothing.
    await chatB.getState().load(conversation);
    expect(chatB.getState().messages[conversation]?.map((m) => m.text)).toEqual(["hi there"]);
    expect(unread()).toBe(1);

    await chatB.getState().markRead(conversation);
    expect(unread()).toBe(0);
    await chatB.getState().refresh(); // and the server agrees
    expect(unread()).toBe(0);
    a.close();
    b.close();
  });

  test("after a resync the store fetches again what it had loaded", async () => {
    const { c: a, auth: aAuth } = await signedUp();
    const { auth: bAuth, c: b } = await signedUp();
    const conversation = (await a.request("conversation.open_direct", { user_id: bAuth.user.id })).id;
    await a.send("message.send", { conversation_id: conversation, client_key: "k-1", text: "one" });
    const chat = createChatStore(b, () => bAuth.user.id);
    await chat.getState().load(conversation);
    expect(chat.getState().messages[conversation]?.length).toBe(1);
    // Forget it all, then reconnect as a session the server no longer has.
    chat.setState({ messages: { [conversation]: [] }, summaries: [] });
    b.close();
    const again = client(b.token);
    const chatAgain = createChatStore(again, () => bAuth.user.id);
    chatAgain.setState({ messages: { [conversation]: [] } });
    again.sessionId = "gone-session";
    await again.connect();
    await until(() => (chatAgain.getState().messages[conversation]?.length ?? 0) === 1);
    expect(chatAgain.getState().summaries.map((s) => s.id)).toContain(conversation);
    expect(aAuth.user.id).not.toBe(bAuth.user.id);
    a.close();
    again.close();
  });
});
